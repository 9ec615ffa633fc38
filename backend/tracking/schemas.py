"""API schemas for ingest, events and visits."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, TypedDict

import msgspec
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from backend.appointments.schemas import AppointmentAt

MAX_POINTS = 1000


class PointIn(BaseModel):
    """One location fix. Give `time` (device clock) and, better, `age_s`: how old the fix was
    when the batch was sent; the server then dates it from its own clock, so a device clock
    that is wrong does not matter."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    client_id: uuid.UUID
    time: AwareDatetime | None = None
    age_s: float | None = Field(default=None, ge=0, le=30 * 86_400)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    accuracy_m: float = Field(ge=0, le=100_000)
    speed_mps: float | None = Field(default=None, ge=0, le=1_000)
    heading_deg: float | None = Field(default=None, ge=0, le=360)
    altitude_m: float | None = Field(default=None, ge=-1_000, le=100_000)
    battery: float | None = Field(default=None, ge=0, le=1)
    provider: Literal["gps", "network", "fused", "passive", "other"] | None = None
    mock: bool = False

    @model_validator(mode="after")
    def _dated(self) -> PointIn:
        if self.time is None and self.age_s is None:
            raise ValueError("give time or age_s")
        return self


class FastPoint(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`PointIn` again, for the hot path: a batch is checked by this in one call (C code, a
    microsecond a point, against ten for the model). It is stricter (no text for numbers,
    no number for a time, only RFC 3339 times), and a batch it refuses is checked point by
    point with `PointIn`, which decides and says why. So what it accepts, `PointIn` must
    accept with the same values: tests/backend/tracking/test_point_schemas.py."""

    client_id: uuid.UUID
    time: Annotated[datetime, msgspec.Meta(tz=True)] | None = None
    age_s: Annotated[float, msgspec.Meta(ge=0, le=30 * 86_400)] | None = None
    lat: Annotated[float, msgspec.Meta(ge=-90, le=90)]
    lon: Annotated[float, msgspec.Meta(ge=-180, le=180)]
    accuracy_m: Annotated[float, msgspec.Meta(ge=0, le=100_000)]
    speed_mps: Annotated[float, msgspec.Meta(ge=0, le=1_000)] | None = None
    heading_deg: Annotated[float, msgspec.Meta(ge=0, le=360)] | None = None
    altitude_m: Annotated[float, msgspec.Meta(ge=-1_000, le=100_000)] | None = None
    battery: Annotated[float, msgspec.Meta(ge=0, le=1)] | None = None
    provider: Literal["gps", "network", "fused", "passive", "other"] | None = None
    mock: bool = False


class LocationBatch(BaseModel):
    """Documented shape of POST /ingest/locations (each point is checked on its own)."""

    device_id: uuid.UUID
    points: list[PointIn] = Field(min_length=1, max_length=MAX_POINTS)


# The ingest answer is built per point on the hot path: plain typed dicts, not models,
# so making and serializing a thousand results costs microseconds.
class PointResult(TypedDict):
    client_id: str | None
    status: Literal["accepted", "duplicate", "flagged", "rejected", "discarded"]
    reason: str | None
    field: str | None


class FenceToWatch(TypedDict):
    id: str
    name: str
    lat: float
    lon: float
    radius_m: float  # a circle enclosing the fence, for the phone's OS region monitoring
    distance_m: float


class IngestResult(TypedDict):
    accepted: int
    duplicates: int
    flagged: int
    rejected: int
    discarded: int  # outside the agent's shift: acknowledged, not kept (docs/security.md)
    events: int  # events recorded because of this batch
    results: list[PointResult]
    watch: list[FenceToWatch]


class BeaconSighting(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    ibeacon_uuid: uuid.UUID | None = None
    major: int | None = Field(default=None, ge=0, le=65535)
    minor: int | None = Field(default=None, ge=0, le=65535)
    eddystone_namespace: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{20}$")
    eddystone_instance: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{12}$")
    rssi: float = Field(ge=-127, le=20)
    tx_power: float | None = Field(default=None, ge=-127, le=20)

    def key(self) -> str:
        if self.ibeacon_uuid is not None and self.major is not None and self.minor is not None:
            return f"ib:{self.ibeacon_uuid}:{self.major}:{self.minor}"
        if self.eddystone_namespace and self.eddystone_instance:
            return f"ed:{self.eddystone_namespace.lower()}:{self.eddystone_instance.lower()}"
        raise ValueError("an iBeacon (uuid, major, minor) or an Eddystone (namespace, instance)")

    @model_validator(mode="after")
    def _identity(self) -> BeaconSighting:
        self.key()
        return self


class WifiSighting(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    bssid: str = Field(pattern=r"^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$")
    rssi: float = Field(ge=-127, le=20)

    def key(self) -> str:
        return self.bssid.lower().replace("-", ":")


class BeaconScan(BaseModel):
    model_config = ConfigDict(extra="forbid")
    time: AwareDatetime
    sightings: list[BeaconSighting] = Field(
        max_length=500, description="empty: scanned and saw none (not the same as no scan)"
    )


class WifiScan(BaseModel):
    model_config = ConfigDict(extra="forbid")
    time: AwareDatetime
    sightings: list[WifiSighting] = Field(max_length=500)


class BeaconBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    device_id: uuid.UUID
    scans: list[BeaconScan] = Field(min_length=1, max_length=MAX_POINTS)


class WifiBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    device_id: uuid.UUID
    scans: list[WifiScan] = Field(min_length=1, max_length=MAX_POINTS)


class DayEndIn(BaseModel):
    device_id: uuid.UUID


class DayEndOut(BaseModel):
    events: int = Field(description="events recorded: the open visits and presences ended")
    closed_at: datetime | None = Field(
        description="the device's last point, where they ended (none: nothing was open)"
    )


class ScanResult(BaseModel):
    accepted: int
    duplicates: int
    late: int = Field(description="older than the device's last scan: stored, not replayed")
    discarded: int = Field(default=0, description="outside the agent's shift: not kept")
    events: int


class EventOut(BaseModel):
    id: uuid.UUID
    kind: str
    occurred_at: datetime
    device_id: uuid.UUID | None
    user_id: uuid.UUID | None
    subject: str
    fence_id: uuid.UUID | None
    place_id: uuid.UUID | None
    customer_id: uuid.UUID | None
    visit_id: uuid.UUID | None
    data: dict[str, Any]
    replayed: bool
    retracted_at: datetime | None
    recorded_at: datetime


Outcome = Literal["met", "not_home", "declined", "appointment_set", "sale"]


class RunnerUp(BaseModel):
    customer_id: uuid.UUID
    share: float | None = Field(description="share of the evidence (none: a person's choice)")


class VisitOut(BaseModel):
    id: uuid.UUID
    agent_id: uuid.UUID
    device_id: uuid.UUID | None
    source: str
    customer_id: uuid.UUID | None
    place_id: uuid.UUID | None
    fence_id: uuid.UUID | None
    arrived_at: datetime
    departed_at: datetime | None
    duration_s: float | None
    lat: float | None
    lon: float | None
    confidence: float
    outcome: Outcome | None
    note: str | None
    retracted_at: datetime | None
    sources: list[str] = Field(
        description="every source that saw this stay: `source` first, then others (a manual "
        "check-in at a visit already detected joins it rather than making a second one)"
    )
    sightings: int = Field(
        default=0,
        description="how many sightings make the visit: each fence, stop, beacon and Wi-Fi "
        "access point that saw the stay, and a check-in",
    )
    attributed_by: str | None = Field(
        default=None,
        description="how the customer was chosen: `plan`, `assigned` or `nearest` (a stop "
        "near several customers, by the weight of evidence), `person` (reassigned), else the "
        "source that names it (`geofence`, `manual`, ...)",
    )
    runners_up: list[RunnerUp] = Field(
        default_factory=list,
        description="the other customers the stay could have been at, with their shares of "
        "the evidence, best first",
    )


class CheckIn(BaseModel):
    """A manual check-in by the agent, at a customer or a place."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    customer_id: uuid.UUID | None = None
    place_id: uuid.UUID | None = None
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    accuracy_m: float = Field(ge=0, le=10_000)
    at: AwareDatetime | None = Field(default=None, description="defaults to now")
    device_id: uuid.UUID | None = None
    client_id: uuid.UUID | None = Field(
        default=None,
        description="the app's id for this check-in: sent again (an offline retry), it returns "
        "the visit the first one made or joined",
    )

    @model_validator(mode="after")
    def _target(self) -> CheckIn:
        if (self.customer_id is None) == (self.place_id is None):
            raise ValueError("give exactly one of customer_id or place_id")
        return self


AGREED = (
    "with the outcome `appointment_set`: the appointment agreed (its start, window, duration), "
    "made for the visit's agent and customer (GET /appointments)"
)


class CheckOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at: AwareDatetime | None = None
    outcome: Outcome | None = None
    note: str | None = Field(default=None, max_length=2000)
    appointment: AppointmentAt | None = Field(default=None, description=AGREED)


class VisitUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Outcome | None = None
    note: str | None = Field(default=None, max_length=2000)
    appointment: AppointmentAt | None = Field(default=None, description=AGREED)
    customer_id: uuid.UUID | None = Field(
        default=None,
        description="reassign the visit to this customer (the agent or a manager who knows "
        "where the stay really was); the previous one becomes a runner-up and the plan's "
        "stops follow",
    )
