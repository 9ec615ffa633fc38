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
