"""Straight-line travel (routing/travel.py): distances on the sphere, the mode's detour and
speed, the hour of day, next door walked, and the reach that bounds a search."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from routing.travel import GeoPoint, HaversineTravel, TravelMode, haversine_m

CITY_HALL = GeoPoint(37.5665, 126.9780)
NOON = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
T = HaversineTravel()


def test_a_degree_of_latitude_is_about_111_km() -> None:
    assert abs(haversine_m(GeoPoint(0, 0), GeoPoint(1, 0)) - 111_195) < 50
    assert haversine_m(CITY_HALL, CITY_HALL) == 0


def test_the_matrix_is_symmetric_zero_on_the_diagonal_and_detoured() -> None:
    pts = [CITY_HALL, GeoPoint(37.5, 127.03), GeoPoint(37.6, 126.9)]
    m = T.matrix(pts, TravelMode.CAR, NOON, NOON)
    for i in range(3):
        assert m.seconds[i][i] == 0 and m.metres[i][i] == 0
        for j in range(3):
            assert m.seconds[i][j] == m.seconds[j][i]
    straight = haversine_m(pts[0], pts[1])
    assert abs(m.metres[0][1] - straight * 1.35) <= 1  # the car's detour


def test_rush_hour_is_slower_than_noon_and_walking_slower_than_driving() -> None:
    far = [CITY_HALL, GeoPoint(37.5, 127.03)]
    rush = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    noon = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    by_car_rush = T.legs(far[:1], far[1:], TravelMode.CAR, rush, rush)[0]
    by_car_noon = T.legs(far[:1], far[1:], TravelMode.CAR, noon, noon)[0]
    on_foot = T.legs(far[:1], far[1:], TravelMode.WALK, noon, noon)[0]
    assert by_car_noon < by_car_rush < on_foot


def test_next_door_is_walked_whatever_the_mode() -> None:
    door = GeoPoint(37.5665 + 30 / 111_195, 126.9780)  # 30 m north
    by_car = T.legs([CITY_HALL], [door], TravelMode.CAR, NOON, NOON)[0]
    on_foot = T.legs([CITY_HALL], [door], TravelMode.WALK, NOON, NOON)[0]
    assert by_car == on_foot < 60  # no parking overhead for the shop next door


def test_seconds_from_agrees_with_legs_and_reach_bounds_every_trip() -> None:
    rng = np.random.default_rng(3)
    lat = 37.45 + rng.random(50) * 0.25
    lon = 126.85 + rng.random(50) * 0.3
    grid = T.seconds_from([CITY_HALL], lat, lon, TravelMode.CAR, NOON, NOON)[0]
    legs = T.legs(
        [CITY_HALL] * 50, [GeoPoint(a, b) for a, b in zip(lat, lon, strict=True)],
        TravelMode.CAR, NOON, NOON,
    )  # fmt: skip
    assert grid.tolist() == legs
    for seconds, a, b in zip(legs, lat, lon, strict=True):
        assert haversine_m(CITY_HALL, GeoPoint(a, b)) <= T.reach_m(TravelMode.CAR, seconds)
