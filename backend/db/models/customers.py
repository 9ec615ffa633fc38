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
    Float,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
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
    # How often to see the customer (backend/customers/schemas.py Cadence); NULL: the
    # segment's, from the tenant's settings.
    cadence: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    assigned_agent_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    external_id: Mapped[str | None] = mapped_column(String(128))
    # RFM and churn risk from the customer's transactions (backend/customers/rfm.py), kept
    # up to date by the import and the `score_customers` job; NULL without transactions.
    rfm_recency_days: Mapped[int | None] = mapped_column(Integer)
    rfm_frequency: Mapped[int | None] = mapped_column(Integer)
    rfm_monetary: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    rfm_r: Mapped[int | None] = mapped_column(SmallInteger)
    rfm_f: Mapped[int | None] = mapped_column(SmallInteger)
    rfm_m: Mapped[int | None] = mapped_column(SmallInteger)
    churn_risk: Mapped[float | None] = mapped_column(Float)
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


class Transaction(TenantKeyed, Base):
    """A purchase (or refund, negative) by a customer, imported from the tenant's systems."""

    __tablename__ = "transactions"
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    product: Mapped[str | None] = mapped_column(String(64))
    external_id: Mapped[str | None] = mapped_column(String(128))
    imported_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    __table_args__ = (
        tenant_fk("customer_id", "customers", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "external_id"),
        Index(
            "ix_transactions_tenant_id_customer_id_occurred_at",
            "tenant_id",
            "customer_id",
            "occurred_at",
        ),
    )
