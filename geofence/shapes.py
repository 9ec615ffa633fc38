"""Fence shapes measured in metres without a database (tests, simulators, tools).

The backend measures the same thing in PostGIS; both say: signed distance from the point to
the fence's border, negative inside.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import shapely
from shapely import Point as ShapelyPoint
from shapely import Polygon as ShapelyPolygon
from shapely.geometry.base import BaseGeometry

from geofence.device import Near
from geofence.distance import EARTH_RADIUS_M, haversine_m, to_local_m
from geofence.types import FenceRule, Fix


@dataclass(frozen=True)
class CircleFence:
    rule: FenceRule
    lat: float
    lon: float
    radius_m: float

    def signed_distance_m(self, lat: float, lon: float) -> float:
        return haversine_m(self.lat, self.lon, lat, lon) - self.radius_m


@dataclass(frozen=True)
class PolygonFence:
    rule: FenceRule
    polygon: BaseGeometry  # lon / lat, as in GeoJSON

    def signed_distance_m(self, lat: float, lon: float) -> float:
        c = self.polygon.centroid
        scale_x = math.radians(1) * EARTH_RADIUS_M * math.cos(math.radians(c.y))
        scale_y = math.radians(1) * EARTH_RADIUS_M

        def to_metres(lonlat: np.ndarray) -> np.ndarray:
            return np.column_stack(((lonlat[:, 0] - c.x) * scale_x, (lonlat[:, 1] - c.y) * scale_y))

        local = shapely.transform(self.polygon, to_metres)
        px, py = to_local_m(lat, lon, c.y, c.x)
        p = ShapelyPoint(px, py)
        border = local.exterior if isinstance(local, ShapelyPolygon) else local.boundary
        d = float(border.distance(p))
        return -d if local.contains(p) else d


Fence = CircleFence | PolygonFence


def near_function(fences: list[Fence], margin_m: float = 500.0) -> Callable[[Fix], Near]:
    """A `near` for the engine: every fence whose border is within `margin_m` of the point."""

    def near(fix: Fix) -> Near:
        out: Near = {}
        for f in fences:
            d = f.signed_distance_m(fix.lat, fix.lon)
            if d <= margin_m + fix.accuracy_m:
                out[f.rule.id] = (d, f.rule)
        return out

    return near
