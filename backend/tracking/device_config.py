"""What a phone should do, from the server: how often to sample and how accurately in each
state, how often to upload, when the agent's shift is (outside it, no tracking unless the
tenant captures outside working hours), and the fences to watch from where it is.

The figures follow what the engine needs (docs/ingest.md): moving, a fix every 10 s tells a
car passing a fence from a stop (entry is by time); stationary, one a minute keeps a stop;
at a customer, one every 30 s sees the agent leave within the 3 minutes a stop is held; the
phone uploads every 5 minutes (what the simulated phones do). The answer carries an ETag:
`If-None-Match` with it is a 304 while nothing changed.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import asyncpg
from pydantic import BaseModel, Field

from backend.auth.security import Principal
from backend.db.jsonb import loads
from backend.errors import Forbidden, Invalid, NotFound
from backend.plans.queries import profile_of
from backend.tenants.calendar import ALL_DAYS, holidays_between
from backend.tenants.settings import settings_of
from backend.tracking.ingest import speaks_for
from backend.tracking.matching import watch_list
from backend.tracking.shift import time_off_of
from geofence.types import Fix


class Sampling(BaseModel):
    interval_s: int = Field(description="seconds between fixes")
    accuracy: Literal["high", "balanced", "low"] = Field(
        description="high: GPS; balanced: Wi-Fi and cell, GPS when needed; low: cell only"
    )
    distance_filter_m: int = Field(description="no new fix until the phone moved this far")


class ShiftOut(BaseModel):
    timezone: str
    start: str = Field(description="local time, HH:MM")
    end: str = Field(description="local time, HH:MM")
    days: list[int] = Field(description="ISO weekdays (1 Monday .. 7 Sunday) the shift is on")
    holidays: list[date] = Field(
        description="public holidays of the tenant's country in the next 30 days: days off"
    )
    time_off: list[date] = Field(
        default_factory=list, description="the agent's own days off in the next 30 days"
    )


class Watched(BaseModel):
    """A fence as a circle for the OS's region monitoring (an upload's `watch` entries)."""

    id: str
    name: str
    lat: float
    lon: float
    radius_m: float = Field(description="a circle enclosing the fence")
    distance_m: float


class DeviceConfig(BaseModel):
    device_id: uuid.UUID
    track_outside_shift: bool = Field(
        description="false: outside the shift the phone does not track at all (the tenant "
        "keeps no point from then)"
    )
    sampling: dict[Literal["moving", "stationary", "at_customer"], Sampling]
    upload_interval_s: int
    shift: ShiftOut | None = Field(description="none: the agent has no planning profile yet")
    fences: list[Watched] = Field(
        description="the nearest fences from the phone's last fix (or the day's start), for "
        "the OS's region monitoring"
    )


SAMPLING = {
    "moving": Sampling(interval_s=10, accuracy="high", distance_filter_m=10),
    "stationary": Sampling(interval_s=60, accuracy="balanced", distance_filter_m=25),
    "at_customer": Sampling(interval_s=30, accuracy="high", distance_filter_m=10),
}
UPLOAD_INTERVAL_S = 300

_CONTEXT = f"""
SELECT d.user_id, d.revoked_at, d.approved_at, t.settings AS tenant_settings,
       ap.settings AS profile, s.state->'last' AS last
FROM devices d JOIN tenants t ON t.id = d.tenant_id
LEFT JOIN LATERAL {profile_of("d.tenant_id", "d.user_id")} ap ON true
LEFT JOIN device_states s ON s.tenant_id = d.tenant_id AND s.device_id = d.id
WHERE d.tenant_id = $1 AND d.id = $2
"""  # noqa: S608 - the plans domain's subquery


async def device_config(
    db: asyncpg.Connection, p: Principal, device_id: uuid.UUID | None
) -> tuple[DeviceConfig, str]:
    """The device's configuration and its ETag. `device_id`: the device a person's token
    asks for; a device's own credential answers for itself."""
    if p.device_id is not None:
        if device_id not in (None, p.device_id):
            raise Invalid("a device's credential asks for its own config", field="device_id")
        device_id = p.device_id
    if device_id is None:
        raise Invalid("say which device (or call with its own credential)", field="device_id")
    row = await db.fetchrow(_CONTEXT, p.tenant_id, device_id)
    # Who may ask is who may upload for it.
    if not speaks_for(p, device_id, row["user_id"] if row is not None else None):
        raise NotFound(f"device {device_id} not found", field="device_id")
    if row["revoked_at"] is not None:
        raise Forbidden("this device has been revoked", field="device_id")
    settings = settings_of(loads(row["tenant_settings"]))
    profile = loads(row["profile"]) if row["profile"] else None
    shift = None
    at = None
    if profile:
        tz = profile.get("timezone", "UTC")
        today = datetime.now(ZoneInfo(tz)).date()
        shift = ShiftOut(
            timezone=tz,
            start=str(profile.get("shift_start", "09:00"))[:5],
            end=str(profile.get("shift_end", "18:00"))[:5],
            days=sorted(profile.get("workdays") or ALL_DAYS),
            holidays=holidays_between(settings.holiday_country, today, 30),
            time_off=_time_off(profile, today, 30),
        )
        start = profile.get("start") or {}
        if "lat" in start and "lon" in start:
            at = (float(start["lat"]), float(start["lon"]))
    last = loads(row["last"]) if row["last"] else None
    if isinstance(last, dict) and "lat" in last and "lon" in last:
        at = (float(last["lat"]), float(last["lon"]))
    near = [] if at is None else await watch_list(db, p.tenant_id, Fix("", 0.0, *at, 0.0))
    fences = [Watched.model_validate(f) for f in near]
    config = DeviceConfig(
        device_id=device_id,
        track_outside_shift=settings.capture_outside_shift,
        sampling=dict(SAMPLING),
        upload_interval_s=UPLOAD_INTERVAL_S,
        shift=shift,
        fences=fences,
    )
    return config, _etag(config.model_dump(mode="json"))


def _etag(doc: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()
    return f'"{digest[:32]}"'


def _time_off(profile: dict[str, Any], first: date, days: int) -> list[date]:
    """The agent's days off (their profile's `time_off` ranges) among the `days` from
    `first`."""
    ranges = time_off_of(profile)
    coming = (first + timedelta(days=k) for k in range(days))
    return [d for d in coming if any(a <= d <= b for a, b in ranges)]
