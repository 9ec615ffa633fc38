"""The day as it happened, team and store figures."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

ItemKind = Literal["visit", "travel", "idle", "no_data"]
StopOutcome = Literal["done", "moved", "skipped", "pending"]


class TimelineItem(BaseModel):
    kind: ItemKind
    start: datetime
    end: datetime
    duration_s: int
    distance_m: int = 0
    visit_id: uuid.UUID | None = None
    customer_id: uuid.UUID | None = None
    customer_name: str | None = None
    place_id: uuid.UUID | None = None
    source: str | None = None
    outcome: str | None = None
    planned: bool | None = Field(default=None, description="visits: was the customer planned")
    lat: float | None = None
    lon: float | None = None


class PlannedStop(BaseModel):
    seq: int
    customer_id: uuid.UUID
    customer_name: str | None
    planned_at: datetime
    status: StopOutcome = Field(
        description="done: visited within an hour of its time; moved: visited at another time; "
        "skipped: not visited and the day is over; pending: not visited yet"
    )
    visit_id: uuid.UUID | None = None
    arrived_at: datetime | None = None
    delay_min: int | None = None


class PlanAgainstActual(BaseModel):
    plan_id: uuid.UUID | None
    planned: int
    done: int
    moved: int
    skipped: int
    pending: int
    unplanned: int
    adherence: float | None = Field(description="(done + moved) / planned")
    stops: list[PlannedStop]
    unplanned_visits: list[uuid.UUID]


class DayActivity(BaseModel):
    agent_id: uuid.UUID
    day: date
    timezone: str
    window_start: datetime = Field(description="the agent's working hours: nothing outside shows")
    window_end: datetime
    first_activity_at: datetime | None
    last_activity_at: datetime | None
    time_on_site_s: int
    travelling_s: int
    idle_s: int
    distance_m: int
    visits: int
    timeline: list[TimelineItem]
    plan_against_actual: PlanAgainstActual
    route: dict[str, Any] | None = Field(description="the plan's GeoJSON LineString, if any")
    route_travel: str | None = Field(
        default=None,
        description="how the plan's travel was measured (roads: the route follows streets from "
        "OpenStreetMap data, © OpenStreetMap contributors; mixed; straight_line)",
    )
    track: dict[str, Any] = Field(description="GeoJSON LineString of the kept points, in order")
    events: list[dict[str, Any]]


class AgentFigures(BaseModel):
    agent_id: uuid.UUID
    name: str
    visits: int
    visits_per_day: float
    customers_contacted: int
    contact_frequency_30d: float = Field(
        description="visits to the agent's book per customer in it, per 30 days"
    )
    conversions: int
    planned_stops: int
    plan_adherence: float | None


class SegmentConversion(BaseModel):
    segment: str
    talks: int
    conversions: int
    rate: float | None


class TeamFigures(BaseModel):
    org_unit_id: uuid.UUID
    since: date
    until: date
    timezone: str = Field(description="the tenant's: each day runs midnight to midnight there")
    days: int
    agents: list[AgentFigures]
    visits: int
    visits_per_agent_day: float
    untouched_customers: int = Field(description="no contact for 90 days as of `until`")
    conversion_by_segment: list[SegmentConversion]
    plan_adherence: float | None


class DwellBucket(BaseModel):
    label: str
    visits: int


class StoreFigures(BaseModel):
    place_id: uuid.UUID
    since: date
    until: date
    timezone: str
    visits: int
    visitors: int
    visitors_per_hour: list[int] = Field(
        description="distinct visitors arriving, by local hour 0-23"
    )
    dwell: list[DwellBucket]
    median_dwell_s: int | None
    revisit_ratio: float | None = Field(description="visitors with 2+ visits / visitors")
    outer_fence_devices: int
    capture_rate: float | None = Field(
        description="devices in the store's outer fence that also entered the store"
    )


class AuditOut(BaseModel):
    at: datetime
    actor_id: uuid.UUID
    action: str
    subject_user_id: uuid.UUID | None
    detail: dict[str, Any]
