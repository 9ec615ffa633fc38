"""The simulated agent's driving: along the plan's line when it follows streets, at its own
speed with its own traffic, never exactly the planner's estimate."""

from __future__ import annotations

import random
import statistics
from typing import Any

from simulators.field import CIRCUITY, STREET_MPS, AgentDay, _along
from simulators.gps import distance_m, offset

LAT, LON = 37.5, 127.0


def driver(seed: int = 1) -> AgentDay:
    """An agent's driving state alone (no API, no phone)."""
    day = AgentDay.__new__(AgentDay)
    day.rng = random.Random(seed)
    day.speed = STREET_MPS
    day.route, day.cursor = [], 0
    day.pos, day.t = (LAT, LON), 0.0
    return day


class Recorder:
    """Stands in for the phone: the fixes go into a list instead of the receiver."""

    def __init__(self, day: AgentDay) -> None:
        self.day = day
        day._point = self.point  # type: ignore[method-assign]
        day._upload = self.upload  # type: ignore[method-assign]
        self.fixes: list[tuple[float, float, float]] = []

    def point(self, t: float, lat: float, lon: float, mock: bool = False) -> None:
        self.fixes.append((t, lat, lon))

    async def upload(self, force: bool = False) -> None:
        return None


def line(*corners: tuple[float, float]) -> dict[str, Any]:
    return {"type": "LineString", "coordinates": [[lon, lat] for lat, lon in corners]}


def test_along_a_path() -> None:
    a, b, c = (LAT, LON), offset(LAT, LON, 0, 300), offset(LAT, LON, 100, 300)
    lengths = [distance_m(a, b), distance_m(b, c)]
    assert _along([a, b, c], lengths, 0.0) == a
    assert _along([a, b, c], lengths, 1.0) == c
    mid = _along([a, b, c], lengths, 300 / 400)
    assert distance_m(mid, b) < 1


async def test_the_drive_follows_the_streets_of_the_plan() -> None:
    # An L-shaped street: 600 m east, then 600 m north. The straight line cuts the corner.
    corner = offset(LAT, LON, 0, 600)
    end = offset(LAT, LON, 600, 600)
    day = driver()
    rec = Recorder(day)
    day._follow(line((LAT, LON), corner, end))
    await day._drive(end)
    assert day.pos == end
    # Every fix lies on the street (near the east-west or the north-south leg), and some
    # near the corner, which the straight line passes 420 m away from.
    for _, lat, lon in rec.fixes:
        off_first = abs(distance_m((lat, lon), (LAT, lon)))
        off_second = abs(distance_m((lat, lon), (lat, corner[1])))
        assert min(off_first, off_second) < 5
    assert min(distance_m((lat, lon), corner) for _, lat, lon in rec.fixes) < 120


async def test_a_suggestion_off_the_plan_is_driven_straight_with_circuity() -> None:
    day = driver()
    rec = Recorder(day)
    day._follow(line((LAT, LON), offset(LAT, LON, 0, 600)))
    away = offset(LAT, LON, -1000, 0)  # nowhere near the plan's line
    assert day._street_path(away) == [(LAT, LON), away]
    await day._drive(away)
    assert rec.fixes and day.pos == away


async def test_trips_take_their_own_time() -> None:
    """The same 3 km trip, driven by many agents: durations spread (traffic, drivers,
    parking), around a city speed, not one figure from a model."""
    durations = []
    for seed in range(200):
        day = driver(seed)
        Recorder(day)
        to = offset(LAT, LON, 0, 3000)
        await day._drive(to)
        durations.append(day.t)
    mean_speed = 3000 * statistics.mean(CIRCUITY) / statistics.median(durations)
    assert 4.0 < mean_speed < 8.0
    assert statistics.pstdev(durations) / statistics.mean(durations) > 0.15
    assert len({round(d) for d in durations}) > 150
