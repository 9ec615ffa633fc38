"""Free-time recommendations: "I have N free minutes here"."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, Field, ValidationInfo, field_validator

from backend.plans.schemas import Point
from routing.travel import TravelMode

MAX_FREE_MIN = 24 * 60


class FreeTimeQuery(BaseModel):
    position: Point = Field(description="where the agent is now")
    free_minutes: int | None = Field(
        default=None, ge=1, le=MAX_FREE_MIN, description="time until the next commitment"
    )
    until: AwareDatetime | None = Field(
        default=None, description="the next commitment's start (instead of free_minutes)"
    )
    next: Point | None = Field(
        default=None, description="the next commitment's place; travel on to it must fit too"
    )
    at: AwareDatetime | None = Field(default=None, description="now, by default")
    agent_id: uuid.UUID | None = Field(default=None, description="default: the caller")
    service_min: int = Field(default=30, ge=1, le=480, description="time a visit takes")
    mode: TravelMode | None = Field(
        default=None, description="default: the agent's profile, or car"
    )
    limit: int = Field(default=20, ge=1, le=100)

    @field_validator("until")
    @classmethod
    def _one_of(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        if value is not None and info.data.get("free_minutes") is not None:
            raise ValueError("give free_minutes or until, not both")
        return value


class Recommendation(BaseModel):
    customer_id: uuid.UUID
    name: str
    status: str
    lat: float
    lon: float
    distance_m: int
    travel_s: int = Field(description="from the position to the customer")
    service_s: int
    onward_s: int = Field(description="from the customer to the next commitment (0 without one)")
    spare_s: int = Field(description="free time left after the visit and the onward trip")
    score: float = Field(description="expected value of the visit, 0-100")
    value_per_min: float = Field(description="score per minute the visit takes, door to door")
    reasons: list[str]


class FreeTimeResult(BaseModel):
    agent_id: uuid.UUID
    free_s: int
    mode: TravelMode
    considered: int = Field(description="candidates within reach checked against the time")
    items: list[Recommendation]


class AlongRouteItem(BaseModel):
    customer_id: uuid.UUID
    name: str
    status: str
    lat: float
    lon: float
    off_route_m: int = Field(description="distance from the planned route")
    after_seq: int = Field(description="cheapest place: after this stop (0: after the start)")
    detour_s: int = Field(description="extra travel to fit it in there")
    service_s: int
    score: float
    value_per_min: float = Field(description="score per minute of detour and visit")
    reasons: list[str]


class AlongRouteResult(BaseModel):
    plan_id: uuid.UUID
    corridor_m: float
    items: list[AlongRouteItem] = Field(
        description="send the chosen ones as `add` to POST /plans/{id}/replan"
    )


class SegmentLearning(BaseModel):
    """What recorded visit outcomes taught about one customer segment (life stage)."""

    segment: str
    talks: int = Field(description="visits where the agent met the customer")
    conversions: int = Field(description="of those, appointments set and sales")
    not_home: int
    rate: float = Field(
        description="conversion rate with the prior: (conversions + 2) / (talks + 10)"
    )
    prior_rate: float
    factor: float = Field(description="what it multiplies scores by: rate / prior, 0.25 to 3")
