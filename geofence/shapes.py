"""Fence shapes measured in metres without a database (tests, simulators, tools).

The backend measures the same thing in PostGIS; both say: signed distance from the point to
the fence's border, negative inside.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from shapely import Point as ShapelyPoint
from shapely import Polygon as ShapelyPolygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import transform

from geofence.device import Near
from geofence.distance import haversine_m, to_local_m
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
        local = transform(lambda x, y, z=None: to_local_m(y, x, c.y, c.x), self.polygon)
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
