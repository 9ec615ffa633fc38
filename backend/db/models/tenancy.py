"""Tenants, the org tree, users, devices and store apps."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Index,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, Timestamped, uuid7
from backend.db.models._keys import TenantKeyed, tenant_fk

ORG_KINDS = ("hq", "region", "branch", "team")
ROLES = ("agent", "manager", "admin")


class Tenant(Base):
    __tablename__ = "tenants"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Privacy settings (backend/tenants/settings.py): retention, working-hours capture.
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")


class OrgUnit(TenantKeyed, Timestamped, Base):
    __tablename__ = "org_units"
    parent_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    # Ancestors from the root down to this unit itself: subtree = `path @> ARRAY[unit]`.
    path: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid))
    # The unit's own time zone (a region abroad), for its figures; none: its nearest
    # ancestor's, else the tenant's (backend/tenants/settings.py `local_zone`).
    timezone: Mapped[str | None] = mapped_column(String(64))
    __table_args__ = (
        tenant_fk("parent_id", "org_units", ondelete="RESTRICT"),
        CheckConstraint(f"kind IN {ORG_KINDS}", name="kind"),
        Index("ix_org_units_path", "path", postgresql_using="gin"),
        Index("ix_org_units_tenant_id_parent_id", "tenant_id", "parent_id"),
    )


class User(TenantKeyed, Timestamped, Base):
    __tablename__ = "users"
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))
    org_unit_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    password_hash: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    # The language of the texts they read (backend/i18n); NULL: their browser's, else English.
    locale: Mapped[str | None] = mapped_column(String(8))
    __table_args__ = (
        tenant_fk("org_unit_id", "org_units", ondelete="RESTRICT"),
        UniqueConstraint("tenant_id", "email"),
        CheckConstraint(f"role IN {ROLES}", name="role"),
        CheckConstraint("locale IN ('en', 'ko')", name="user_locale"),
        Index("ix_users_tenant_id_org_unit_id", "tenant_id", "org_unit_id"),
    )


class Device(TenantKeyed, Timestamped, Base):
    __tablename__ = "devices"
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    name: Mapped[str] = mapped_column(Text)
    platform: Mapped[str] = mapped_column(String(16))
    identifier: Mapped[str] = mapped_column(String(128))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Empty: registered by its agent, waiting for a manager or an admin to approve it.
    approved_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    __table_args__ = (
        tenant_fk("user_id", "users", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "identifier"),
        CheckConstraint("platform IN ('android', 'ios', 'other')", name="platform"),
        Index("ix_devices_tenant_id_user_id", "tenant_id", "user_id"),
    )


class StoreApp(TenantKeyed, Timestamped, Base):
    __tablename__ = "store_apps"
    name: Mapped[str] = mapped_column(Text)
    org_unit_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    store_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid), default=list)
    # The key is shown once; we keep its public prefix (to find it) and a SHA-256 of it.
    key_prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (tenant_fk("org_unit_id", "org_units", ondelete="RESTRICT"),)
