"""Raw location data, the engine's per-device state, events and visits."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKeyConstraint,
    Index,
    PrimaryKeyConstraint,
    String,
    Text,
    Uuid,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, column_property, mapped_column

from backend.db.base import Base
from backend.db.models._keys import TenantKeyed, tenant_fk

VISIT_SOURCES = ("geofence", "stop", "beacon", "wifi", "manual")


def _device_fk() -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["tenant_id", "device_id"], ["devices.tenant_id", "devices.id"], ondelete="CASCADE"
    )


class Ping(Base):
    """Every location point a device sent, good or flagged; (device, fix time, client id) is
    its key, which also serves reading a device's points in time order (migration 0015).
    Partitioned by day of fix time (migration 0011): retention drops whole days. Its device
    must exist, as with a foreign key, but checked by triggers once per statement and device
    rather than once per row (migration 0019): the row-by-row check was almost half the
    cost of storing a point."""

    __tablename__ = "pings"
    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    device_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    client_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    fix_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    accuracy_m: Mapped[float] = mapped_column(Float)
    speed_mps: Mapped[float | None] = mapped_column(Float)
    heading_deg: Mapped[float | None] = mapped_column(Float)
    altitude_m: Mapped[float | None] = mapped_column(Float)
    battery: Mapped[float | None] = mapped_column(Float)
    provider: Mapped[str | None] = mapped_column(String(16))
    mock: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    flag: Mapped[str | None] = mapped_column(String(16))
    __table_args__ = (
        PrimaryKeyConstraint("tenant_id", "device_id", "fix_time", "client_id"),
        {"postgresql_partition_by": "RANGE (fix_time)"},
    )


class Scan(Base):
    """A beacon or Wi-Fi scan: what the phone saw at one time; an empty list is "none seen"."""

    __tablename__ = "scans"
    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    device_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(8))
    scanned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sightings: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    late: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    __table_args__ = (
        PrimaryKeyConstraint("tenant_id", "device_id", "kind", "scanned_at"),
        _device_fk(),
        CheckConstraint("kind IN ('beacon', 'wifi')", name="kind"),
    )


class DeviceState(Base):
    """The engine's live state for one device, and where it has got to."""

    __tablename__ = "device_states"
    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    device_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    state: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    beacons: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    wifi: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    last_fix_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_client_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    __table_args__ = (PrimaryKeyConstraint("tenant_id", "device_id"), _device_fk())


class DeviceCheckpoint(Base):
    """The engine's state after the point (fix_time, client_id): where late points replay from."""

    __tablename__ = "device_checkpoints"
    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    device_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    fix_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    client_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    state: Mapped[dict[str, Any]] = mapped_column(JSONB)
    __table_args__ = (
        PrimaryKeyConstraint("tenant_id", "device_id", "fix_time", "client_id"),
        _device_fk(),
    )


class Event(Base):
    """Rows are never deleted or rewritten: a replay marks one retracted, and clears the mark
    when a later replay implies the same event again (backend/tracking/records.py)."""

    __tablename__ = "events"
    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    id: Mapped[uuid.UUID] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(24))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    device_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    subject: Mapped[str] = mapped_column(Text)
    fence_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    place_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    customer_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    visit_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    produced_by_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    produced_by_client: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    replayed: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    retracted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    __table_args__ = (
        PrimaryKeyConstraint("tenant_id", "id"),
        Index("ix_events_tenant_id_device_id_occurred_at", "tenant_id", "device_id", "occurred_at"),
        Index("ix_events_tenant_id_occurred_at", "tenant_id", "occurred_at"),
        Index(
            "ix_events_tenant_id_device_id_produced_by_time",
            "tenant_id",
            "device_id",
            "produced_by_time",
        ),
    )


class Visit(TenantKeyed, Base):
    """One visit whatever its source: fence dwell, stop near a customer, beacon, Wi-Fi, manual."""

    __tablename__ = "visits"
    agent_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    device_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    source: Mapped[str] = mapped_column(String(16))
    customer_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    place_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    fence_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    arrived_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    departed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    confidence: Mapped[float] = mapped_column(Float, default=1.0, server_default="1")
    outcome: Mapped[str | None] = mapped_column(String(24))
    note: Mapped[str | None] = mapped_column(Text)
    retracted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The app's id of the manual check-in that made or joined this visit (idempotent retries).
    client_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # How the customer was chosen (stop visits: plan, assigned, nearest; person: reassigned)
    # and the other candidates with their shares of the evidence.
    attributed_by: Mapped[str | None] = mapped_column(String(16))
    runners_up: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    # Other sources that saw the same stay (a check-in at a detected visit: "manual").
    also_seen_by: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}", default=list)
    # What the visit's events have said of it (backend/tracking/announce.py): nothing, started,
    # ended or retracted, and the arrival, departure, customer, place and outcome they said.
    told: Mapped[str | None] = mapped_column(String(12))
    told_arrived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    told_departed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    told_customer_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    told_place_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    told_outcome: Mapped[str | None] = mapped_column(String(24))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    __table_args__ = (
        tenant_fk("agent_id", "users", ondelete="CASCADE"),
        tenant_fk("customer_id", "customers", nullable_set_null=True),
        tenant_fk("place_id", "places", nullable_set_null=True),
        CheckConstraint(f"source IN {VISIT_SOURCES}", name="source"),
        CheckConstraint("told IS NULL OR told IN ('started', 'ended', 'retracted')", name="told"),
        CheckConstraint(
            "outcome IS NULL OR outcome IN "
            "('met', 'not_home', 'declined', 'appointment_set', 'sale')",
            name="outcome",
        ),
        Index("ix_visits_tenant_id_agent_id_arrived_at", "tenant_id", "agent_id", "arrived_at"),
        Index("ix_visits_tenant_id_customer_id", "tenant_id", "customer_id"),
        Index(
            "ux_visits_tenant_id_agent_id_client_id",
            "tenant_id",
            "agent_id",
            "client_id",
            unique=True,
            postgresql_where=text("client_id IS NOT NULL"),
        ),
    )


class VisitSighting(TenantKeyed, Base):
    """One source's sighting of a stay, under its own id (the engine's visit id for that
    source), and the visit it belongs to: itself when it was the first to see the stay, else
    the visit another source (the fence, a beacon, Wi-Fi) was already recording at the same
    place or customer. The visit ends when its last sighting ends."""

    __tablename__ = "visit_sightings"
    visit_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    source: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        tenant_fk("visit_id", "visits", ondelete="CASCADE"),
        Index("ix_visit_sightings_tenant_id_visit_id", "tenant_id", "visit_id"),
    )


# How many sightings make a visit (each fence, stop, beacon and access point that saw the
# stay), read with it: one indexed count.
Visit.sightings = column_property(
    select(func.count())
    .where(VisitSighting.tenant_id == Visit.tenant_id, VisitSighting.visit_id == Visit.id)
    .correlate_except(VisitSighting)
    .scalar_subquery(),
    deferred=False,
)
