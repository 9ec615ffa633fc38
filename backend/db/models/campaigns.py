"""Campaign target lists: who is targeted, by whom, and how far each got."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, Timestamped
from backend.db.models._keys import TenantKeyed, tenant_fk

CAMPAIGN_KINDS = ("win_back", "up_sell", "loyalty", "other")
MEMBER_STATUSES = ("targeted", "contacted", "converted")


class Campaign(TenantKeyed, Timestamped, Base):
    __tablename__ = "campaigns"
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    org_unit_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    boost: Mapped[float] = mapped_column(Float)
    filters: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # What the campaign has taught so far (kept by `track`): members reached (contacted or
    # converted) and converted; their rate scales the boost (backend/customers/scoring.py).
    reached: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    converted: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    __table_args__ = (
        tenant_fk("org_unit_id", "org_units", ondelete="CASCADE"),
        CheckConstraint(f"kind IN {CAMPAIGN_KINDS}", name="kind"),
        CheckConstraint("ends_on >= starts_on", name="dates"),
        CheckConstraint("boost >= 0 AND boost <= 50", name="boost"),
    )


class CampaignMember(Base):
    __tablename__ = "campaign_members"
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    campaign_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    agent_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    status: Mapped[str] = mapped_column(String(16), default="targeted")
    contacted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    converted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    visit_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    __table_args__ = (
        tenant_fk("campaign_id", "campaigns", ondelete="CASCADE"),
        tenant_fk("customer_id", "customers", ondelete="CASCADE"),
        tenant_fk("agent_id", "users", nullable_set_null=True),
        CheckConstraint(f"status IN {MEMBER_STATUSES}", name="status"),
        Index("ix_campaign_members_tenant_id_customer_id", "tenant_id", "customer_id"),
        Index("ix_campaign_members_tenant_id_agent_id", "tenant_id", "agent_id"),
    )
