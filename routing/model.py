"""The planner's vocabulary: agents, stops, coaching, options, and what a plan says."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from routing.travel import GeoPoint, TravelMode, haversine_m


class StopKind(enum.StrEnum):
    APPOINTMENT = "appointment"  # hard time window, agreed with the customer
    MUST = "must"  # must be seen today, any time in its windows
    OPTIONAL = "optional"  # a prospect: worth its score


class DropReason(enum.StrEnum):
    AVOIDED_AREA = "avoided_area"
    NOT_ALLOWED = "not_allowed"
    UNREACHABLE = "unreachable_in_window"
    CONFLICT = "conflicts_with_appointment"
    STOP_CAP = "stop_cap"
    NO_TIME = "no_time"
    LOWER_PRIORITY = "lower_priority"


class ProblemError(ValueError):
    """Input that cannot describe a day; ``field`` names the offending part."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Stop:
    id: str
    location: GeoPoint
    service_s: int
    kind: StopKind = StopKind.OPTIONAL
    # Windows for the start of service; empty: any time in the shift.
    windows: tuple[tuple[datetime, datetime], ...] = ()
    score: float = 0.0
    segment: str | None = None
    # Agents allowed to make this visit (territories); None: any agent of the plan.
    agents: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Lunch:
    earliest: datetime
    latest: datetime
    duration_s: int


@dataclass(frozen=True, slots=True)
class Agent:
    id: str
    start: GeoPoint
    shift_start: datetime
    shift_end: datetime
    end: GeoPoint | None = None  # None: back to start
    mode: TravelMode = TravelMode.CAR
    lunch: Lunch | None = None
    max_stops: int | None = None


@dataclass(frozen=True, slots=True)
class Area:
    """A circle to keep away from (a coaching action)."""

    center: GeoPoint
    radius_m: float

    def contains(self, point: GeoPoint) -> bool:
        return haversine_m(self.center, point) <= self.radius_m


@dataclass(frozen=True, slots=True)
class Coaching:
    """Actions a manager's note carries into the next plan."""

    boost: Mapping[str, float] = field(default_factory=dict)  # stop id → points added
    focus_segment: str | None = None
    focus_factor: float = 1.5  # score multiplier for the focus segment
    target_visits: int | None = None  # soft minimum of stops per agent
    avoid: tuple[Area, ...] = ()


@dataclass(frozen=True, slots=True)
class Options:
    # The search stops at whichever comes first. The solution budget is deterministic: when it
    # ends the search, the same input gives the same plan on any machine, under any load.
    time_limit_s: float = 1.5
    solution_limit: int | None = 300
    score_value_s: int = 60  # one point of score is worth a minute of travel
    workers: int = 2


@dataclass(frozen=True, slots=True)
class Problem:
    agents: tuple[Agent, ...]
    stops: tuple[Stop, ...]
    coaching: Coaching = field(default_factory=Coaching)


@dataclass(frozen=True, slots=True)
class PlannedStop:
    stop_id: str
    kind: StopKind
    arrival: datetime
    start: datetime
    departure: datetime
    wait_s: int
    travel_s: int  # from the previous place
    distance_m: int
    score: float


@dataclass(frozen=True, slots=True)
class AgentPlan:
    agent_id: str
    depart: datetime
    arrive: datetime  # back at the end place
    stops: tuple[PlannedStop, ...]
    travel_s: int
    wait_s: int
    service_s: int
    distance_m: int
    lunch: tuple[datetime, datetime] | None
    path: tuple[GeoPoint, ...]  # start, stops in order, end
    # Why the lunch is shorter than asked, or left out: the appointments left no room
    # (routing/lunch.py).
    lunch_note: str | None = None


@dataclass(frozen=True, slots=True)
class DroppedStop:
    stop_id: str
    kind: StopKind
    reason: DropReason
    detail: str


@dataclass(frozen=True, slots=True)
class PlanResult:
    agents: tuple[AgentPlan, ...]
    dropped: tuple[DroppedStop, ...]
    objective: int
    score: float
    solve_ms: int
    strategy: str
    # Where the travel times came from (TravelMatrix.source) and why it fell back, if it did.
    travel: str = "straight_line"
    travel_note: str | None = None
