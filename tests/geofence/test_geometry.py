"""Geometry validation: what a client may send as an area or a circle."""

from __future__ import annotations

import pytest

from geofence.geometry import GeometryError, check_radius, parse_area

SQUARE = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]]


def poly(*rings: list[list[float]]) -> dict[str, object]:
    return {"type": "Polygon", "coordinates": list(rings)}


def test_valid_polygon_and_multipolygon() -> None:
    assert parse_area(poly(SQUARE)).area == pytest.approx(1.0)
    multi = {"type": "MultiPolygon", "coordinates": [[SQUARE], [[[2, 2], [3, 2], [3, 3], [2, 2]]]]}
    assert parse_area(multi).area == pytest.approx(1.5)


def test_polygon_with_hole() -> None:
    hole = [[0.25, 0.25], [0.25, 0.75], [0.75, 0.75], [0.75, 0.25], [0.25, 0.25]]
    assert parse_area(poly(SQUARE, hole)).area == pytest.approx(0.75)


@pytest.mark.parametrize(
    ("geojson", "field", "text"),
    [
        (poly([[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]), "geometry", "Self-intersection"),
        (poly([[0, 0], [1, 0], [1, 1], [0, 1]]), "geometry.coordinates[0]", "closed"),
        (poly([[0, 0], [1, 0], [0, 0]]), "geometry.coordinates[0]", "at least 4"),
        (poly([[0, 0], [181, 0], [1, 1], [0, 0]]), "geometry.coordinates[0][1]", "longitude"),
        (poly([[0, 0], [1, 0], [1, 91], [0, 0]]), "geometry.coordinates[0][2]", "latitude"),
        (poly([[0, 0], [1, "x"], [1, 1], [0, 0]]), "geometry.coordinates[0][1]", "numbers"),
        (poly([[0, 0], [1, 0], [2, 0], [0, 0]]), "geometry", "invalid geometry"),
        ({"type": "Point", "coordinates": [0, 0]}, "geometry.type", "Polygon"),
        ({"type": "Polygon", "coordinates": []}, "geometry.coordinates", "non-empty"),
        ({"type": "MultiPolygon", "coordinates": [[]]}, "geometry.coordinates[0]", "non-empty"),
        ("POLYGON((0 0, 1 0, 1 1, 0 0))", "geometry", "GeoJSON"),
    ],
)
def test_invalid_areas_name_the_field(geojson: object, field: str, text: str) -> None:
    with pytest.raises(GeometryError) as err:
        parse_area(geojson)
    assert err.value.field == field
    assert text in err.value.message


def test_bowtie_message_is_shapelys_explanation() -> None:
    with pytest.raises(GeometryError) as err:
        parse_area(poly([[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]))
    assert err.value.message == "invalid geometry: Self-intersection[0.5 0.5]"


@pytest.mark.parametrize("radius", [0, -1, 50_000.1, float("nan"), float("inf")])
def test_bad_radius(radius: float) -> None:
    with pytest.raises(GeometryError) as err:
        check_radius(radius)
    assert err.value.field == "radius_m"


@pytest.mark.parametrize("radius", [0.5, 100, 50_000])
def test_good_radius(radius: float) -> None:
    check_radius(radius)


def test_polygon_fence_signed_distance_in_metres() -> None:
    from shapely.geometry import box

    from geofence.shapes import PolygonFence
    from geofence.types import FenceRule

    # About 88 m (east-west) by 111 m (north-south) at Seoul's latitude.
    fence = PolygonFence(FenceRule("p"), box(127.0, 37.5, 127.001, 37.501))
    centre = fence.signed_distance_m(37.5005, 127.0005)
    assert -46 < centre < -43  # inside: negative, half the shorter side
    north = fence.signed_distance_m(37.502, 127.0005)
    assert 110 < north < 112  # 0.001 degrees of latitude north of the edge
