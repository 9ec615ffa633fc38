"""Planning profiles, plans (one active revision per agent and day) and their stops."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from geoalchemy2 import Geography
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
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base
from backend.db.models._keys import TenantKeyed, tenant_fk

PLAN_STATUSES = ("active", "superseded")
STOP_STATUSES = ("planned", "fulfilled", "cancelled", "done")


class AgentProfile(Base):
    """Where an agent starts and ends the day, the shift, lunch and travel mode."""

    __tablename__ = "agent_profiles"
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    __table_args__ = (tenant_fk("user_id", "users", ondelete="CASCADE"),)


class Plan(TenantKeyed, Base):
    __tablename__ = "plans"
    agent_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    plan_date: Mapped[date] = mapped_column(Date)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default="active")
    team_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    depart_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    arrive_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    travel_s: Mapped[int] = mapped_column(Integer)
    wait_s: Mapped[int] = mapped_column(Integer)
    service_s: Mapped[int] = mapped_column(Integer)
    distance_m: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    solve_ms: Mapped[int] = mapped_column(Integer)
    strategy: Mapped[str] = mapped_column(Text)
    # How travel was measured: roads, mixed (some places off the map) or straight_line.
    travel: Mapped[str] = mapped_column(String(16), server_default="straight_line")
    travel_note: Mapped[str | None] = mapped_column(Text)
    route: Mapped[Any] = mapped_column(Geography("LINESTRING", srid=4326, spatial_index=False))
    lunch: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    dropped: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    # What the plan was made from (profile, appointments, candidates, coaching): re-planning
    # starts from it.
    inputs: Mapped[dict[str, Any]] = mapped_column(JSONB)
    __table_args__ = (
        tenant_fk("agent_id", "users", ondelete="CASCADE"),
        CheckConstraint(f"status IN {PLAN_STATUSES}", name="status"),
        Index("ix_plans_tenant_id_agent_id_plan_date", "tenant_id", "agent_id", "plan_date"),
        Index(
            "uq_plans_active_per_day",
            "tenant_id",
            "agent_id",
            "plan_date",
            unique=True,
            postgresql_where="status = 'active'",
        ),
    )


class WeekPlan(TenantKeyed, Base):
    """An agent's working week planned whole (backend/plans/week.py): its days (each a plan
    id, or why it is off) and the due customers it left out, with their reasons."""

    __tablename__ = "week_plans"
    agent_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    week_start: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    days: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    left_out: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    due: Mapped[int] = mapped_column(Integer)
    due_planned: Mapped[int] = mapped_column(Integer)
    travel_s: Mapped[int] = mapped_column(Integer)
    solve_ms: Mapped[int] = mapped_column(Integer)
    __table_args__ = (
        tenant_fk("agent_id", "users", ondelete="CASCADE"),
        CheckConstraint(f"status IN {PLAN_STATUSES}", name="week_plan_status"),
        Index(
            "uq_week_plans_active_per_week",
            "tenant_id",
            "agent_id",
            "week_start",
            unique=True,
            postgresql_where="status = 'active'",
        ),
    )


class PlanStop(Base):
    __tablename__ = "plan_stops"
    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    plan_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(16))
    arrival_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    start_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    departure_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    travel_s: Mapped[int] = mapped_column(Integer)
    wait_s: Mapped[int] = mapped_column(Integer)
    distance_m: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="planned")
    visit_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    __table_args__ = (
        tenant_fk("plan_id", "plans", ondelete="CASCADE"),
        tenant_fk("customer_id", "customers", ondelete="CASCADE"),
        CheckConstraint(f"status IN {STOP_STATUSES}", name="status"),
        Index("ix_plan_stops_tenant_id_customer_id", "tenant_id", "customer_id"),
    )
