"""Metres on a small patch of the Earth, for the engine's own geometry (tests, stops).

The backend measures fences in PostGIS (geography); these helpers use an equirectangular
projection around the point, accurate to well under 1% at the scale of a visit (< 10 km).
"""

from __future__ import annotations

import math

EARTH_RADIUS_M = 6_371_008.8


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def to_local_m(lat: float, lon: float, lat0: float, lon0: float) -> tuple[float, float]:
    """(x east, y north) in metres from (lat0, lon0)."""
    x = math.radians(lon - lon0) * EARTH_RADIUS_M * math.cos(math.radians(lat0))
    y = math.radians(lat - lat0) * EARTH_RADIUS_M
    return x, y
