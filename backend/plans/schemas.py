"""Planning API bodies: profiles, plan requests, re-plans, team plans, and plans out."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, ValidationInfo, field_validator

from backend.coaching.schemas import CoachingIn
from backend.common.strict import LocalTime
from backend.tenants.calendar import ALL_DAYS
from backend.tenants.settings import known_zone
from routing.travel import TravelMode


class Point(BaseModel):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class LunchIn(BaseModel):
    earliest: LocalTime = Field(description="earliest start, local time")
    latest: LocalTime = Field(description="latest start, local time")
    minutes: int = Field(default=60, ge=0, le=180)

    @field_validator("latest")
    @classmethod
    def _order(cls, value: time, info: ValidationInfo) -> time:
        earliest = info.data.get("earliest")
        if earliest is not None and value < earliest:
            raise ValueError("the latest start is before the earliest")
        return value


class TimeOffIn(BaseModel):
    """Days the agent does not work (leave, training): first and last, inclusive."""

    first: date
    last: date
    reason: str | None = Field(default=None, max_length=200)

    @field_validator("last")
    @classmethod
    def _order(cls, value: date, info: ValidationInfo) -> date:
        first = info.data.get("first")
        if first is not None and value < first:
            raise ValueError("the time off ends before it starts")
        return value


class AgentProfileIn(BaseModel):
    """Where the day starts and ends, the shift (local time), lunch and how the agent moves."""

    start: Point
    end: Point | None = Field(default=None, description="default: back to start")
    shift_start: LocalTime = time(9, 0)
    # Checked even when left out: a start of 22:48 with the default end was stored, then a 500
    # each time the profile was read back.
    shift_end: LocalTime = Field(default=time(18, 0), validate_default=True)
    lunch: LunchIn | None = None
    mode: TravelMode = TravelMode.CAR
    max_stops: int | None = Field(default=None, ge=1, le=200)
    timezone: str = Field(default="UTC", description="IANA name, e.g. Asia/Seoul")
    workdays: list[int] = Field(
        default_factory=lambda: list(ALL_DAYS),
        description="ISO weekdays the agent works (1 Monday .. 7 Sunday; default every day): "
        "no nightly plan on the others, and points from them kept only when the tenant "
        "captures outside working hours",
    )
    time_off: list[TimeOffIn] = Field(
        default_factory=list,
        max_length=100,
        description="the agent's days off (leave, training): no nightly plan, and points kept "
        "only when the tenant captures outside working hours",
    )

    def days_off(self) -> list[tuple[date, date]]:
        return [(t.first, t.last) for t in self.time_off]

    @field_validator("workdays")
    @classmethod
    def _days(cls, value: list[int]) -> list[int]:
        if not value or any(d not in ALL_DAYS for d in value):
            raise ValueError("one or more ISO weekdays, 1 (Monday) to 7 (Sunday)")
        return sorted(set(value))

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return known_zone(value)

    @field_validator("shift_end")
    @classmethod
    def _shift(cls, value: time, info: ValidationInfo) -> time:
        start = info.data.get("shift_start")
        if start is not None and value <= start:
            raise ValueError("the shift ends before it starts")
        return value


class AgentProfileOut(AgentProfileIn):
    user_id: uuid.UUID
    updated_at: datetime


class AppointmentIn(BaseModel):
    customer_id: uuid.UUID
    start: AwareDatetime = Field(description="agreed start of the visit")
    end: AwareDatetime | None = Field(
        default=None, description="latest acceptable start (default: start)"
    )
    service_min: int = Field(default=60, ge=1, le=600)

    @field_validator("end")
    @classmethod
    def _window(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        start = info.data.get("start")
        if value is not None and start is not None and value < start:
            raise ValueError("the window ends before it starts")
        return value


class VisitIn(BaseModel):
    customer_id: uuid.UUID
    service_min: int = Field(default=30, ge=1, le=600)


class ProspectIn(VisitIn):
    score: float = Field(ge=0, le=100)


class PlanOptionsIn(BaseModel):
    max_prospects: int = Field(default=150, ge=0, le=500)
    prospect_radius_m: float = Field(default=15_000, gt=0, le=200_000)
    time_limit_s: float = Field(
        default=1.5,
        ge=0.1,
        le=30,
        description="seconds to solve; cut to the tenant's plan_time_limit_s (default 5, at "
        "most 10)",
    )
    coaching: CoachingIn | None = None


class PlanCreate(PlanOptionsIn):
    agent_id: uuid.UUID
    date: date
    appointments: list[AppointmentIn] = Field(default_factory=list, max_length=100)
    must_visit: list[VisitIn] = Field(default_factory=list, max_length=200)
    prospects: list[ProspectIn] | None = Field(
        default=None,
        max_length=500,
        description="candidates with scores; omitted: chosen and scored from the customer base",
    )
    profile: AgentProfileIn | None = Field(
        default=None, description="this day only; default: the agent's stored profile"
    )


class UrgentIn(VisitIn):
    start: AwareDatetime | None = Field(default=None, description="an appointment time, if any")


class ReplanIn(BaseModel):
    position: Point
    at: AwareDatetime | None = Field(default=None, description="default: now")
    cancelled: list[uuid.UUID] = Field(default_factory=list, max_length=200)
    done: list[uuid.UUID] = Field(default_factory=list, max_length=200)
    urgent: list[UrgentIn] = Field(default_factory=list, max_length=20)
    add: list[ProspectIn] = Field(
        default_factory=list,
        max_length=50,
        description="prospects to consider for the rest of the day (e.g. from /along)",
    )
    time_limit_s: float = Field(
        default=0.15, ge=0.05, le=5, description="seconds to solve; cut as a plan's is"
    )


class TeamPlanCreate(PlanOptionsIn):
    org_unit_id: uuid.UUID
    date: date


class PlanStopOut(BaseModel):
    seq: int
    customer_id: uuid.UUID
    customer_name: str | None = None
    kind: str
    arrival_at: datetime
    start_at: datetime
    departure_at: datetime
    travel_s: int
    wait_s: int
    distance_m: int
    score: float
    status: str
    visit_id: uuid.UUID | None = None


class DroppedOut(BaseModel):
    customer_id: uuid.UUID
    kind: str
    reason: str
    detail: str


class PlanOut(BaseModel):
    id: uuid.UUID
    agent_id: uuid.UUID
    plan_date: date
    revision: int
    status: str
    team_id: uuid.UUID | None
    created_at: datetime
    depart_at: datetime
    arrive_at: datetime
    travel_s: int
    wait_s: int
    service_s: int
    distance_m: int
    score: float
    solve_ms: int
    strategy: str
    lunch: dict[str, datetime] | None
    lunch_note: str | None = Field(
        default=None,
        description="why the lunch is shorter than the profile's, or left out: the "
        "appointments left no more room (a lunch never pushes out an appointment)",
    )
    stops: list[PlanStopOut]
    dropped: list[DroppedOut]
    travel: Literal["roads", "mixed", "straight_line"] = Field(
        description="how travel was measured: on roads, on roads except for places off the map "
        "(mixed), or by the straight-line estimate (no road network, or it was unavailable)"
    )
    travel_note: str | None = Field(description="why travel fell back to the straight line")
    route: dict[str, Any] = Field(
        description="GeoJSON LineString (lon, lat) from the start through the stops to the end: "
        "along the streets when travel was on roads, straight segments otherwise"
    )
    shaped_by: list[uuid.UUID] = Field(
        default_factory=list, description="the coaching notes whose actions this plan obeyed"
    )


class TeamPlanOut(BaseModel):
    team_id: uuid.UUID
    org_unit_id: uuid.UUID
    plan_date: date
    plans: list[PlanOut]
    dropped: list[DroppedOut]
    skipped_agents: list[uuid.UUID] = Field(description="agents without a planning profile")


class WeekPlanCreate(BaseModel):
    """An agent's working week (or every agent's of a team), from Monday `week_start`."""

    agent_id: uuid.UUID | None = Field(default=None, description="one agent's week")
    org_unit_id: uuid.UUID | None = Field(
        default=None, description="or every agent's with a profile under this unit"
    )
    week_start: date = Field(description="the week's Monday")
    max_prospects: int = Field(default=100, ge=0, le=300)
    prospect_radius_m: float = Field(default=15_000, gt=0, le=200_000)
    time_limit_s: float = Field(
        default=5.0,
        ge=0.1,
        le=30,
        description="seconds to solve each agent's week; cut to the tenant's plan_time_limit_s",
    )

    @field_validator("week_start")
    @classmethod
    def _monday(cls, value: date) -> date:
        if value.weekday() != 0:
            raise ValueError(f"{value} is a {value:%A}: a week starts on a Monday")
        return value


class WeekDayOut(BaseModel):
    date: date
    plan: PlanOut | None = Field(description="the day's plan; none on a day off")
    off: str | None = Field(default=None, description="why the day is not planned")


class LeftOutOut(DroppedOut):
    customer_name: str | None = None
    due: date | None = Field(default=None, description="when the cadence says to see them")


class WeekPlanOut(BaseModel):
    id: uuid.UUID
    agent_id: uuid.UUID
    week_start: date
    status: str
    created_at: datetime
    days: list[WeekDayOut]
    left_out: list[LeftOutOut] = Field(
        description="due customers and appointments the week could not keep, with why"
    )
    due: int = Field(description="customers due this week by their cadence")
    due_planned: int = Field(description="of them, planned this week")
    travel_s: int
    solve_ms: int


class TeamWeekOut(BaseModel):
    weeks: list[WeekPlanOut]
    skipped_agents: list[uuid.UUID] = Field(description="agents without a planning profile")
