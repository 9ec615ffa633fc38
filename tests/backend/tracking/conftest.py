"""A tenant with a fence, a fenceless customer, a store with a beacon and an AP, and a phone."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest_asyncio

from tests.backend.world import Tenant

LAT, LON = 37.5665, 126.9780
M_PER_DEG = 111_195.0
T0 = (datetime.now(UTC) - timedelta(days=1)).replace(second=0, microsecond=0)
IBEACON = "f7826da6-4fa2-4e98-8024-bc5b71e0893e"
BSSID = "02:aa:bb:cc:dd:01"


def at(
    north_m: float, east_m: float = 0.0, lat0: float = LAT, lon0: float = LON
) -> tuple[float, float]:
    return lat0 + north_m / M_PER_DEG, lon0 + east_m / (M_PER_DEG * math.cos(math.radians(lat0)))


def point(
    t_s: float, north_m: float, east_m: float = 0.0, acc: float = 8.0, **kw: Any
) -> dict[str, Any]:
    lat, lon = at(north_m, east_m)
    return {
        "client_id": str(uuid.uuid4()),
        "time": (T0 + timedelta(seconds=t_s)).isoformat(),
        "lat": lat,
        "lon": lon,
        "accuracy_m": acc,
        **kw,
    }


def recent(minutes_ago: float, north_m: float = 0.0, east_m: float = 0.0) -> dict[str, Any]:
    """A fix `minutes_ago` (dated by its age, as a phone's queue would), north / east of the
    office's fence centre."""
    lat, lon = at(north_m, east_m)
    return {
        "client_id": str(uuid.uuid4()),
        "age_s": minutes_ago * 60,
        "lat": lat,
        "lon": lon,
        "accuracy_m": 8,
    }


def visit_track(start_s: float = 0.0) -> list[dict[str, Any]]:
    """Walk in from 400 m, stay 10 minutes at the fence's centre, walk out to 600 m."""
    pts = [point(start_s + i * 20, 400 - i * 100) for i in range(5)]
    pts += [point(start_s + 100 + i * 30, 0) for i in range(1, 21)]
    pts += [point(start_s + 700 + i * 30, i * 100) for i in range(1, 7)]
    return pts


VISIT_EVENTS = ("visit_started", "visit_updated", "visit_ended", "visit_retracted")


def engine_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events of what the sources saw, without what is said of the visits they made."""
    return [e for e in events if e["kind"] not in VISIT_EVENTS]


def told(events: list[dict[str, Any]]) -> dict[str, tuple[Any, ...] | None]:
    """What a receiver knows of each visit once it has applied its events in the order they
    were recorded: (arrived, departed, customer, place), or None when it was retracted."""
    said = sorted(
        (e for e in events if e["kind"] in VISIT_EVENTS and e["retracted_at"] is None),
        key=lambda e: (e["recorded_at"], VISIT_EVENTS.index(e["kind"])),
    )
    known: dict[str, tuple[Any, ...] | None] = {}
    for e in said:
        d = e["data"]
        known[e["visit_id"]] = (
            None
            if e["kind"] == "visit_retracted"
            else (instant(d["arrived_at"]), instant(d.get("departed_at")), e["customer_id"],
                  e["place_id"])
        )  # fmt: skip
    return known


def instant(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def told_visits(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The visits a receiver of every event would hold, without their ids, sorted."""
    return sorted(v for v in told(events).values() if v is not None)


@dataclass
class Field:
    tenant: Tenant
    fence: dict[str, Any]
    customer: dict[str, Any]
    store: dict[str, Any]
    customer_lat: float
    customer_lon: float

    async def device(self, who: str = "agent") -> str:
        return str((await self.tenant.device(who))["id"])


@pytest_asyncio.fixture(scope="module")
async def field(tenant: Tenant) -> Field:
    fence = await tenant.post(
        "manager",
        "/geofences",
        {
            "name": "Kim's office",
            "circle": {"lat": LAT, "lon": LON, "radius_m": 100},
            "dwell_s": 120,
            "exit_buffer_m": 20,
        },
    )
    clat, clon = at(0, 3000)  # 3 km east, no fence
    customer = await tenant.post(
        "manager",
        "/customers",
        {
            "name": "Fenceless",
            "lat": clat,
            "lon": clon,
            "status": "customer",
            "assigned_agent_id": str(tenant.users["agent"]),
        },
    )
    slat, slon = at(3000, 0)
    store = await tenant.post(
        "manager", "/places", {"kind": "store", "name": "Shop", "lat": slat, "lon": slon}
    )
    await tenant.post(
        "manager",
        "/beacons",
        {
            "place_id": store["id"],
            "protocol": "ibeacon",
            "ibeacon_uuid": IBEACON,
            "major": 1,
            "minor": 2,
        },
    )
    await tenant.post("manager", "/wifi-access-points", {"place_id": store["id"], "bssid": BSSID})
    return Field(tenant, fence, customer, store, clat, clon)
