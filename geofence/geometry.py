"""Validation of RFC 7946 GeoJSON areas and circles, with messages a client can act on."""

from __future__ import annotations

import math
from typing import Any

import shapely
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.validation import explain_validity

MAX_RADIUS_M = 50_000.0
AREA_TYPES = ("Polygon", "MultiPolygon")


class GeometryError(ValueError):
    """A geometry a client sent is unusable; `field` is a dotted path into the request."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def check_lat_lon(lat: float, lon: float, field: str = "") -> None:
    prefix = f"{field}." if field else ""
    if not (isinstance(lat, int | float) and math.isfinite(lat) and -90 <= lat <= 90):
        raise GeometryError(f"{prefix}lat", "latitude must be a number in [-90, 90]")
    if not (isinstance(lon, int | float) and math.isfinite(lon) and -180 <= lon <= 180):
        raise GeometryError(f"{prefix}lon", "longitude must be a number in [-180, 180]")


def check_radius(radius_m: float, field: str = "radius_m") -> None:
    if not (isinstance(radius_m, int | float) and math.isfinite(radius_m)):
        raise GeometryError(field, "radius must be a number of metres")
    if radius_m <= 0 or radius_m > MAX_RADIUS_M:
        raise GeometryError(field, f"radius must be > 0 and <= {MAX_RADIUS_M:.0f} m")


def _check_position(pos: Any, field: str) -> None:
    if not isinstance(pos, list | tuple) or len(pos) not in (2, 3):
        raise GeometryError(field, "a position is [longitude, latitude] (RFC 7946)")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in pos):
        raise GeometryError(field, "position values must be numbers")
    lon, lat = pos[0], pos[1]
    if not (math.isfinite(lon) and -180 <= lon <= 180):
        raise GeometryError(field, f"longitude {lon} out of range [-180, 180]")
    if not (math.isfinite(lat) and -90 <= lat <= 90):
        raise GeometryError(field, f"latitude {lat} out of range [-90, 90]")


def _check_polygon_coords(rings: Any, field: str) -> None:
    if not isinstance(rings, list) or not rings:
        raise GeometryError(field, "a polygon is a non-empty list of linear rings")
    for i, ring in enumerate(rings):
        rfield = f"{field}[{i}]"
        if not isinstance(ring, list) or len(ring) < 4:
            raise GeometryError(rfield, "a linear ring needs at least 4 positions")
        for j, pos in enumerate(ring):
            _check_position(pos, f"{rfield}[{j}]")
        if list(ring[0][:2]) != list(ring[-1][:2]):
            raise GeometryError(rfield, "a linear ring must be closed (first position = last)")


def parse_area(geojson: Any, field: str = "geometry") -> Polygon | MultiPolygon:
    """A valid Polygon or MultiPolygon from RFC 7946 GeoJSON, or GeometryError."""
    if not isinstance(geojson, dict):
        raise GeometryError(field, "must be a GeoJSON geometry object")
    gtype = geojson.get("type")
    if gtype not in AREA_TYPES:
        raise GeometryError(f"{field}.type", f"must be one of {', '.join(AREA_TYPES)}")
    coords = geojson.get("coordinates")
    cfield = f"{field}.coordinates"
    if gtype == "Polygon":
        _check_polygon_coords(coords, cfield)
    else:
        if not isinstance(coords, list) or not coords:
            raise GeometryError(cfield, "a MultiPolygon is a non-empty list of polygons")
        for k, poly in enumerate(coords):
            _check_polygon_coords(poly, f"{cfield}[{k}]")
    try:
        geom = shape(geojson)
    except (ValueError, TypeError, shapely.errors.ShapelyError) as exc:
        raise GeometryError(field, f"unreadable geometry: {exc}") from exc
    if not geom.is_valid:
        raise GeometryError(field, f"invalid geometry: {explain_validity(geom)}")
    if geom.is_empty or geom.area <= 0:
        raise GeometryError(field, "geometry has no area")
    assert isinstance(geom, Polygon | MultiPolygon)
    _check_on_the_sphere(geom, field)
    return geom


# Areas are stored as planar lon/lat and measured on the sphere (PostGIS geography), where an
# edge is the shorter great-circle arc between its ends. That reading agrees with the planar one
# only while every edge spans less than half the globe in longitude; at exactly half, the
# ends can be antipodal and PostGIS cannot choose an arc ("Antipodal edge detected", a 500).
# An area less than half the globe wide also never encloses a pole.
MAX_LON_SPAN_DEG = 180.0


def _check_on_the_sphere(geom: Polygon | MultiPolygon, field: str) -> None:
    """Refuse what the database could not compute on the sphere, before it gets there."""
    min_lon, min_lat, max_lon, max_lat = geom.bounds
    if max_lon - min_lon >= MAX_LON_SPAN_DEG:
        raise GeometryError(
            field,
            f"the area spans {max_lon - min_lon:g} degrees of longitude; it must span less "
            f"than {MAX_LON_SPAN_DEG:g} (half the globe) to be measured on the sphere",
        )
    if max(abs(min_lat), abs(max_lat)) >= 90:  # the bounds are the vertices' own
        raise GeometryError(field, "an area may not have a vertex on a pole")


def as_multipolygon(geom: Polygon | MultiPolygon) -> MultiPolygon:
    return geom if isinstance(geom, MultiPolygon) else MultiPolygon([geom])
