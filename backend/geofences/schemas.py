"""API schemas for geofences and territories."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Circle(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    radius_m: float = Field(
        gt=0,
        le=50_000,
        description="metres, at most 50 km; 50 m for a customer's or a store's door (larger "
        "circles catch more cars driving through and neighbours' stays: docs/ingest.md)",
    )


class _GeofenceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dwell_s: int = Field(default=300, ge=0, le=86_400, description="stay this long to fire dwell")
    exit_buffer_m: float = Field(
        default=20.0, ge=0, le=5_000, description="outside by this much before an exit counts"
    )
    customer_id: uuid.UUID | None = Field(
        default=None,
        description="a fence around this customer's door: it announces a stay only once the "
        "stay dwells (entered, stamped when it happened, comes with dwelled)",
    )
    place_id: uuid.UUID | None = None
    territory_id: uuid.UUID | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class GeofenceBody(_GeofenceSettings):
    """A geofence's content: exactly one of `circle` or `geometry`."""

    name: str = Field(min_length=1, max_length=200)
    circle: Circle | None = None
    geometry: dict[str, Any] | None = Field(
        default=None, description="RFC 7946 Polygon or MultiPolygon (lon, lat)"
    )
    org_unit_id: uuid.UUID | None = None


class GeofenceCreate(GeofenceBody):
    tag: str = Field(default="default", min_length=1, max_length=64)
    external_id: str | None = Field(default=None, min_length=1, max_length=128)


class GeofenceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    circle: Circle | None = None
    geometry: dict[str, Any] | None = None
    tag: str | None = Field(default=None, min_length=1, max_length=64)
    external_id: str | None = Field(default=None, min_length=1, max_length=128)
    dwell_s: int | None = Field(default=None, ge=0, le=86_400)
    exit_buffer_m: float | None = Field(default=None, ge=0, le=5_000)
    customer_id: uuid.UUID | None = None
    place_id: uuid.UUID | None = None
    territory_id: uuid.UUID | None = None
    metadata: dict[str, Any] | None = None
    org_unit_id: uuid.UUID | None = None


class Geofence(_GeofenceSettings):
    model_config = ConfigDict(extra="ignore")
    id: uuid.UUID
    org_unit_id: uuid.UUID
    name: str
    tag: str
    external_id: str | None
    shape: str
    circle: Circle | None
    geometry: dict[str, Any] = Field(description="the area matched: polygon, or the circle's")
    created_at: datetime
    updated_at: datetime


class TerritoryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    geometry: dict[str, Any] = Field(description="RFC 7946 Polygon or MultiPolygon (lon, lat)")
    org_unit_id: uuid.UUID | None = None
    agent_id: uuid.UUID | None = None


class TerritoryUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    geometry: dict[str, Any] | None = None
    org_unit_id: uuid.UUID | None = None
    agent_id: uuid.UUID | None = None


class Territory(BaseModel):
    id: uuid.UUID
    name: str
    geometry: dict[str, Any]
    org_unit_id: uuid.UUID
    agent_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
