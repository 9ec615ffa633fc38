"""Adapters between API values (lat/lon, GeoJSON) and PostGIS columns."""

from __future__ import annotations

from typing import Any

from geoalchemy2 import Geometry
from geoalchemy2.elements import WKBElement, WKTElement
from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry
from sqlalchemy import cast, func

from backend.errors import Invalid
from geofence.geometry import GeometryError, as_multipolygon, parse_area


def point(lat: float, lon: float) -> WKTElement:
    return WKTElement(f"POINT({lon!r} {lat!r})", srid=4326)


def lat_lon(element: Any) -> tuple[float, float]:
    geom = to_shape(element)
    return geom.y, geom.x


def area_element(geojson: Any, field: str, multi: bool = True) -> WKBElement:
    try:
        geom = parse_area(geojson, field)
    except GeometryError as exc:
        raise Invalid(exc.message, field=exc.field) from exc
    return from_shape(as_multipolygon(geom) if multi else geom, srid=4326)


def to_geojson(element: Any) -> dict[str, Any] | None:
    if element is None:
        return None
    geom: BaseGeometry = to_shape(element)
    return dict(mapping(geom))


def circle_area(center: Any, radius_m: Any) -> Any:
    """SQL for a circle's polygon: a geodesic buffer of the center, as geometry (for GiST)."""
    return cast(func.ST_Buffer(center, radius_m, "quad_segs=16"), Geometry(srid=4326))


def geography_point(lat: float, lon: float) -> Any:
    """A geography point as a SQL expression (for use inside other spatial functions)."""
    return func.ST_GeogFromText(f"SRID=4326;POINT({lon!r} {lat!r})")
