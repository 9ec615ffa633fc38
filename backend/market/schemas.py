"""The market view of a place or a drawn area."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, Field


class MarketArea(BaseModel):
    area: dict[str, Any] = Field(description="GeoJSON Polygon or MultiPolygon (lon, lat)")


class Referrer(BaseModel):
    customer_id: uuid.UUID
    name: str
    value: float
    last_contact_days: int | None
    agent_id: uuid.UUID | None


class Coverage(BaseModel):
    agent_id: uuid.UUID
    name: str
    customers: int = Field(description="customers there assigned to this agent")
    territory: bool = Field(description="the agent's territory overlaps the area")


class MarketView(BaseModel):
    area_m2: float
    households: int | None = Field(description="households of the places there, where known")
    customers: int
    prospects: int
    dormant: int
    do_not_visit: int
    penetration: float | None = Field(description="customers / households")
    referrers: list[Referrer] = Field(
        description="customers there who could refer their neighbours: highest value first, "
        "in touch within the last year"
    )
    coverage: list[Coverage]
