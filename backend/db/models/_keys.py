"""Helpers for tenant-first composite keys."""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, ForeignKeyConstraint, Uuid
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from backend.db.base import uuid7


class TenantKeyed:
    """`(tenant_id, id)` primary key; every row belongs to exactly one tenant."""

    @declared_attr
    def tenant_id(cls) -> Mapped[uuid.UUID]:
        return mapped_column(
            Uuid, ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True, sort_order=-2
        )

    @declared_attr
    def id(cls) -> Mapped[uuid.UUID]:
        return mapped_column(Uuid, primary_key=True, default=uuid7, sort_order=-1)


def tenant_fk(
    column: str, target: str, *, ondelete: str | None = None, nullable_set_null: bool = False
) -> ForeignKeyConstraint:
    """A composite FK `(tenant_id, column) -> target(tenant_id, id)`: no cross-tenant links.

    With `nullable_set_null`, deleting the target clears only `column` (PostgreSQL 15's
    `SET NULL (column)`), never tenant_id.
    """
    if nullable_set_null:
        ondelete = f"SET NULL ({column})"
    return ForeignKeyConstraint(
        ["tenant_id", column], [f"{target}.tenant_id", f"{target}.id"], ondelete=ondelete
    )
