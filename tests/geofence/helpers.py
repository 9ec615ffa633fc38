"""Building fixes and fences for engine tests."""

from __future__ import annotations

import math

from geofence.shapes import CircleFence
from geofence.types import FenceRule, Fix

LAT0, LON0 = 37.5665, 126.9780
M_PER_DEG = 111_195.0


def offset(north_m: float, east_m: float = 0.0) -> tuple[float, float]:
    lat = LAT0 + north_m / M_PER_DEG
    lon = LON0 + east_m / (M_PER_DEG * math.cos(math.radians(LAT0)))
    return lat, lon


def fix(
    n: int, t: float, north_m: float, east_m: float = 0.0, acc: float = 10.0, **kw: object
) -> Fix:
    lat, lon = offset(north_m, east_m)
    return Fix(client_id=f"p{n:06d}", t=t, lat=lat, lon=lon, accuracy_m=acc, **kw)  # type: ignore[arg-type]


def circle(
    fid: str = "f1",
    radius_m: float = 100.0,
    dwell_s: float = 300.0,
    exit_buffer_m: float = 20.0,
    hold: bool = False,
) -> CircleFence:
    return CircleFence(FenceRule(fid, dwell_s, exit_buffer_m, hold), LAT0, LON0, radius_m)
