"""Customers and prospects, with segment attributes and the agent they are assigned to."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from geoalchemy2 import Geography
from sqlalchemy import (
    ARRAY,
    Boolean,
    CheckConstraint,
    DateTime,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, Timestamped
from backend.db.models._keys import TenantKeyed, tenant_fk

CUSTOMER_STATUSES = ("customer", "prospect", "dormant")


class Customer(TenantKeyed, Timestamped, Base):
    __tablename__ = "customers"
    org_unit_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    status: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(32))
    address: Mapped[str | None] = mapped_column(Text)
    location: Mapped[Any] = mapped_column(
        Geography("POINT", srid=4326, spatial_index=False), nullable=False
    )
    income_band: Mapped[str | None] = mapped_column(String(32))
    household_type: Mapped[str | None] = mapped_column(String(32))
    life_stage: Mapped[str | None] = mapped_column(String(32))
    lifestyle_tags: Mapped[list[str]] = mapped_column(
        ARRAY(Text), default=list, server_default="{}"
    )
    value: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=0, server_default="0")
    last_contact_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    do_not_visit: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # [{"days": [0..6], "start": "09:00", "end": "12:00"}], local time of the tenant.
    preferred_hours: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, default=list, server_default="[]"
    )
    assigned_agent_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    external_id: Mapped[str | None] = mapped_column(String(128))
    __table_args__ = (
        tenant_fk("org_unit_id", "org_units", ondelete="RESTRICT"),
        tenant_fk("assigned_agent_id", "users", nullable_set_null=True),
        UniqueConstraint("tenant_id", "external_id"),
        CheckConstraint(f"status IN {CUSTOMER_STATUSES}", name="status"),
        CheckConstraint("value >= 0", name="value"),
        Index("ix_customers_tenant_id_location", "tenant_id", "location", postgresql_using="gist"),
        Index("ix_customers_tenant_id_assigned_agent_id", "tenant_id", "assigned_agent_id"),
        Index("ix_customers_tenant_id_org_unit_id", "tenant_id", "org_unit_id"),
    )
