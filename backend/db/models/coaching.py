"""Coaching notes on an agent's day, visit or plan, and the audit log of location reads."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    PrimaryKeyConstraint,
    String,
    Text,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base
from backend.db.models._keys import TenantKeyed, tenant_fk

NOTE_SUBJECTS = ("day", "visit", "plan")
MAX_NOTE_CHARS = 10_000


class CoachingNote(TenantKeyed, Base):
    """A manager's note on one agent's day, visit or plan; replies hang off `parent_id`.

    `actions` (boosts, a focus segment or campaign, a visit target, areas to avoid) bind the
    planner for that agent from `applies_from` to `applies_until`, and the plans they shape
    name the note."""

    __tablename__ = "coaching_notes"
    agent_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    author_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    subject: Mapped[str] = mapped_column(String(8))
    day: Mapped[date] = mapped_column(Date)
    visit_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    plan_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    body: Mapped[str] = mapped_column(Text)
    actions: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    applies_from: Mapped[date | None] = mapped_column(Date)
    applies_until: Mapped[date | None] = mapped_column(Date)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (
        tenant_fk("agent_id", "users", ondelete="CASCADE"),
        tenant_fk("author_id", "users", ondelete="CASCADE"),
        tenant_fk("parent_id", "coaching_notes", ondelete="CASCADE"),
        tenant_fk("visit_id", "visits", nullable_set_null=True),
        tenant_fk("plan_id", "plans", nullable_set_null=True),
        CheckConstraint(f"subject IN {NOTE_SUBJECTS}", name="subject"),
        CheckConstraint(f"char_length(body) BETWEEN 1 AND {MAX_NOTE_CHARS}", name="body"),
        Index("ix_coaching_notes_tenant_id_agent_id_day", "tenant_id", "agent_id", "day"),
        Index("ix_coaching_notes_tenant_id_parent_id", "tenant_id", "parent_id"),
    )


class AuditEntry(Base):
    """Who read whose location history, when, and what exactly (append-only)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigInteger, autoincrement=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("tenants.id", ondelete="CASCADE"))
    actor_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    action: Mapped[str] = mapped_column(String(40))
    subject_user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (
        PrimaryKeyConstraint("tenant_id", "id"),  # distributable by tenant (migration 0036)
        Index("ix_audit_log_tenant_id_subject_user_id_at", "tenant_id", "subject_user_id", "at"),
    )
