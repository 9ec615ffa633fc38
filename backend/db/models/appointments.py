"""Appointments: an agent's agreed visits to a customer, the plans' fixed points; and the
calendar feeds that show them on the agent's phone (backend/appointments/)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Index, Integer, String, Text, Uuid, func, text
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base
from backend.db.models._keys import TenantKeyed, tenant_fk


class Appointment(TenantKeyed, Base):
    """A visit agreed with a customer: it starts between `starts_at` and `latest_start_at`
    (the same, for an exact time) and lasts `duration_min`."""

    __tablename__ = "appointments"
    agent_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    latest_start_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    duration_min: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="planned")
    title: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16), default="api")
    # The visit where it was agreed (an `appointment_set` outcome) and the one that kept it.
    set_at_visit_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    visit_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # An imported calendar event's UID: importing the same file again changes, not adds.
    external_uid: Mapped[str | None] = mapped_column(String(255))
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    __table_args__ = (
        tenant_fk("agent_id", "users", ondelete="CASCADE"),
        tenant_fk("customer_id", "customers", ondelete="CASCADE"),
        CheckConstraint(
            "status IN ('planned', 'confirmed', 'cancelled', 'done')", name="appointment_status"
        ),
        CheckConstraint("source IN ('api', 'outcome', 'ical')", name="appointment_source"),
        CheckConstraint("latest_start_at >= starts_at", name="appointment_window"),
        CheckConstraint("duration_min BETWEEN 1 AND 600", name="appointment_duration"),
        Index("ix_appointments_tenant_id_agent_id_starts_at", "tenant_id", "agent_id", "starts_at"),
        Index(
            "uq_appointments_tenant_id_agent_id_external_uid",
            "tenant_id",
            "agent_id",
            "external_uid",
            unique=True,
            postgresql_where=text("external_uid IS NOT NULL"),
        ),
    )


class CalendarFeed(TenantKeyed, Base):
    """A calendar app's subscription to an agent's appointments and planned visits: the URL
    carries a token (kept as its SHA-256) that can be revoked on its own."""

    __tablename__ = "calendar_feeds"
    agent_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (tenant_fk("agent_id", "users", ondelete="CASCADE"),)
