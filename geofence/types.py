"""Values the engine takes and returns."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

# Event ids are UUIDv5 in this namespace: the same input always yields the same ids.
EVENT_NAMESPACE = uuid.UUID("5b1d6f0e-6a4c-4f0e-9d57-2f3c1e0a9b11")


class Flag(StrEnum):
    """Why a point is kept out of presence (it is still stored)."""

    INVALID = "invalid"
    ZERO_ISLAND = "zero_island"
    DUPLICATE = "duplicate"
    FUTURE = "future"
    TOO_OLD = "too_old"
    LOW_ACCURACY = "low_accuracy"
    SPEED_JUMP = "speed_jump"
    MOCK = "mock_location"


class Kind(StrEnum):
    ENTERED = "entered"
    EXITED = "exited"
    DWELLED = "dwelled"
    VISIT_STARTED = "visit_started"
    VISIT_ENDED = "visit_ended"
    BEACON_ENTERED = "beacon_entered"
    BEACON_EXITED = "beacon_exited"
    WIFI_ENTERED = "wifi_entered"
    WIFI_EXITED = "wifi_exited"
    DEVICE_SILENT = "device_silent"
    SPOOF_SUSPECTED = "spoof_suspected"


@dataclass(frozen=True, slots=True)
class Fix:
    """One location point, its time already corrected for the device clock (epoch seconds)."""

    client_id: str
    t: float
    lat: float
    lon: float
    accuracy_m: float
    speed_mps: float | None = None
    mock: bool = False
    received_t: float | None = None

    @property
    def order(self) -> tuple[float, str]:
        """The total order points are processed in: fix time, then client id."""
        return (self.t, self.client_id)


@dataclass(frozen=True, slots=True)
class FenceRule:
    """What the engine needs to know of a fence (its shape lives in PostGIS or shapely)."""

    id: str
    dwell_s: float = 300.0
    exit_buffer_m: float = 20.0
    # Announce the stay only once it is a visit: the enter (stamped when it happened) comes
    # with the dwell, and a stay that ends sooner produces no event at all. For fences around
    # a customer's door, where passing by or waiting next door is not worth an event.
    hold: bool = False


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    kind: Kind
    t: float
    subject: str  # fence id, beacon key, BSSID, stop id or client id
    visit_id: str | None = None
    source: str | None = None  # for visits: geofence | stop | beacon | wifi
    data: dict[str, Any] = field(default_factory=dict)


def event_id(
    device: str, kind: str, subject: str, t: float, visit_id: str | None = None, data: str = ""
) -> str:
    """Deterministic: the same facts give the same id, and changed facts a new one."""
    key = f"{device}|{kind}|{subject}|{t:.3f}|{visit_id or ''}|{data}"
    return str(uuid.uuid5(EVENT_NAMESPACE, key))


def make_event(
    device: str,
    kind: Kind,
    t: float,
    subject: str,
    *,
    visit_id: str | None = None,
    source: str | None = None,
    **data: Any,
) -> Event:
    facts = json.dumps(data, sort_keys=True, default=str) if data else ""
    eid = event_id(device, kind, subject, t, visit_id, facts)
    return Event(eid, kind, t, subject, visit_id, source, data)
