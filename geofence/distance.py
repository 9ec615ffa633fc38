"""Metres on a small patch of the Earth, for the engine's own geometry (tests, stops).

The backend measures fences in PostGIS (geography); these helpers use an equirectangular
projection around the point, accurate to well under 1% at the scale of a visit (< 10 km).
"""

from __future__ import annotations

import math
from math import asin, cos, sin, sqrt

EARTH_RADIUS_M = 6_371_008.8
_RAD = math.pi / 180.0  # what math.radians multiplies by
_DIAMETER = 2 * EARTH_RADIUS_M


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance. It runs a few times for every point, so it is written out
    without `math.radians` calls; the figures are the same to the bit."""
    p1 = lat1 * _RAD
    p2 = lat2 * _RAD
    a = sin((p2 - p1) / 2) ** 2 + cos(p1) * cos(p2) * sin((lon2 - lon1) * _RAD / 2) ** 2
    return _DIAMETER * asin(min(1.0, sqrt(a)))


def to_local_m(lat: float, lon: float, lat0: float, lon0: float) -> tuple[float, float]:
    """(x east, y north) in metres from (lat0, lon0)."""
    x = math.radians(lon - lon0) * EARTH_RADIUS_M * math.cos(math.radians(lat0))
    y = math.radians(lat - lat0) * EARTH_RADIUS_M
    return x, y
