"""Stop detection: a stay is one stop, a reflection does not split it, leaving ends it."""

from __future__ import annotations

from geofence.device import DeviceState, EngineConfig, process
from geofence.types import Event, Fix, Kind
from tests.geofence.helpers import fix

CFG = EngineConfig()


def run(points: list[Fix]) -> list[Event]:
    res = process("dev", DeviceState(), [(p, {}) for p in points], CFG)
    return [e for e in res.events if e.source == "stop"]


def stay(n0: int, t0: float, minutes: int, north: float = 0.0) -> list[Fix]:
    return [fix(n0 + i, t0 + 30 * i, north + (i % 3) * 4, (i % 2) * 5) for i in range(minutes * 2)]


def test_a_stay_is_one_stop_that_ends_when_the_device_leaves() -> None:
    pts = [*stay(1, 0, 30), fix(100, 1800, 400), fix(101, 1815, 600), fix(102, 1830, 800)]
    events = run(pts)
    assert [(e.kind, e.t) for e in events] == [(Kind.VISIT_STARTED, 0), (Kind.VISIT_ENDED, 1770)]


def test_one_reflection_does_not_split_a_stay() -> None:
    pts = stay(1, 0, 30)
    pts[30] = fix(31, pts[30].t, 220, 90, acc=15)  # 15 minutes in: a point 240 m off
    pts += [fix(100, 1800, 400), fix(101, 1815, 600)]
    events = run(pts)
    assert [(e.kind, e.t) for e in events] == [(Kind.VISIT_STARTED, 0), (Kind.VISIT_ENDED, 1770)]


def test_moving_on_to_a_second_place_starts_a_second_stop() -> None:
    pts = stay(1, 0, 10) + stay(100, 700, 10, north=600)
    events = run(pts)
    assert [(e.kind, e.t) for e in events] == [
        (Kind.VISIT_STARTED, 0),
        (Kind.VISIT_ENDED, 570),
        (Kind.VISIT_STARTED, 700),
    ]


def test_next_door_is_a_second_stop() -> None:
    # 10 minutes at A, a minute's walk, 10 minutes at B 60 m north.
    walk = [fix(50 + i, 600 + 15 * i, 15 * i) for i in range(1, 4)]
    pts = stay(1, 0, 10) + walk + stay(100, 660, 10, north=60)
    events = run(pts)
    kinds = [(e.kind, round(e.t / 30) * 30) for e in events]
    assert kinds[0] == (Kind.VISIT_STARTED, 0)
    assert kinds[1][0] is Kind.VISIT_ENDED and 600 <= kinds[1][1] <= 690
    assert kinds[2][0] is Kind.VISIT_STARTED and 600 <= kinds[2][1] <= 720
    assert len(kinds) == 3


def test_noise_does_not_split_a_long_stay() -> None:
    import random

    rng = random.Random(5)
    pts = [fix(i + 1, 30 * i, rng.gauss(0, 12), rng.gauss(0, 12)) for i in range(120)]
    for k in (20, 50, 51, 90):  # reflections, one of them twice in a row but back after
        pts[k] = fix(k + 1, 30 * k, 70, 20, acc=15)
    events = run([*pts, fix(500, 3600, 500), fix(501, 3615, 700)])
    assert [e.kind for e in events] == [Kind.VISIT_STARTED, Kind.VISIT_ENDED]
