"""What the live streams read (backend/live/): the tenant's feed of what just happened, in the
order it became visible."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Identity, Index, String, Uuid, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base

# What the feed carries (docs/live.md): an agent's position, a visit's events, a plan changed,
# a coaching note written.
LIVE_KINDS = (
    "position",
    "visit_started",
    "visit_ended",
    "visit_updated",
    "visit_retracted",
    "plan_changed",
    "coaching_note",
)


class LiveEvent(Base):
    """One entry of a tenant's live feed. `seq` is the tenant's order, gapless, set once the
    row is committed (backend/live/numbering.py), so a reader that has seen `seq` n has seen
    everything before it; empty until then."""

    __tablename__ = "live_events"
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    seq: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    agent_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    device_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    __table_args__ = (
        # Each row is written twice (inserted, then numbered): the indexes are the ones each
        # write needs, and no more. The order's only once numbered; the time's a BRIN (the
        # rows come in time order) for the day's expiry; the unnumbered ones for the numberer.
        Index(
            "ux_live_events_tenant_id_seq",
            "tenant_id",
            "seq",
            unique=True,
            postgresql_where=text("seq IS NOT NULL"),
        ),
        Index("ix_live_events_at", "at", postgresql_using="brin"),
        Index("ix_live_events_unnumbered", "id", postgresql_where=text("seq IS NULL")),
    )


class LiveHead(Base):
    """The newest `seq` of a tenant's feed."""

    __tablename__ = "live_heads"
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(BigInteger)
