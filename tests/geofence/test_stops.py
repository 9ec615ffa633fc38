"""Stop detection: a stay is one stop, a reflection does not split it, leaving ends it."""

from __future__ import annotations

import pytest

from geofence.device import DeviceState, EngineConfig, process
from geofence.types import Event, Fix, Flag, Kind
from tests.geofence.helpers import fix

CFG = EngineConfig()


def run(points: list[Fix]) -> list[Event]:
    res = process("dev", DeviceState(), [(p, {}) for p in points], CFG)
    return [e for e in res.events if e.source == "stop"]


def away(n0: int, t0: float, east: float = 0.0) -> list[Fix]:
    """Driving off at 10 m/s from 400 m north, a fix every 15 s: gone (over three minutes)."""
    return [fix(n0 + k, t0 + 15 * k, 400 + 150 * k, east) for k in range(14)]


def stay(n0: int, t0: float, minutes: int, north: float = 0.0) -> list[Fix]:
    return [fix(n0 + i, t0 + 30 * i, north + (i % 3) * 4, (i % 2) * 5) for i in range(minutes * 2)]


def test_a_stay_is_one_stop_that_ends_when_the_device_leaves() -> None:
    # Leaving at 10 m/s: gone once the points have been far for three minutes, and the stop
    # ended at its last point inside.
    drive = [fix(100 + k, 1800 + 15 * k, 400 + 150 * k) for k in range(12)]  # to 1965 s
    events = run([*stay(1, 0, 30), *drive])
    assert [(e.kind, e.t) for e in events] == [(Kind.VISIT_STARTED, 0)]  # as yet
    events = run([*stay(1, 0, 30), *drive, fix(200, 1980, 2200)])
    assert [(e.kind, e.t) for e in events] == [(Kind.VISIT_STARTED, 0), (Kind.VISIT_ENDED, 1770)]


def test_a_reflection_of_two_minutes_does_not_split_a_stay() -> None:
    # Indoors a fix jumps 40-150 m off and stays there for a while, claiming 30 m: five
    # fixes in a row 120 m away, for two minutes, then back. One stay, one stop.
    pts = stay(1, 0, 30)
    for k in range(20, 25):
        pts[k] = fix(k + 1, pts[k].t, 110, 50, acc=30)
    events = run(pts + away(100, 1800))
    assert [(e.kind, e.t) for e in events] == [(Kind.VISIT_STARTED, 0), (Kind.VISIT_ENDED, 1770)]


def test_one_reflection_does_not_split_a_stay() -> None:
    pts = stay(1, 0, 30)
    pts[30] = fix(31, pts[30].t, 220, 90, acc=15)  # 15 minutes in: a point 240 m off
    events = run(pts + away(100, 1800))
    assert [(e.kind, e.t) for e in events] == [(Kind.VISIT_STARTED, 0), (Kind.VISIT_ENDED, 1770)]


def test_driving_past_again_is_not_coming_back() -> None:
    # Leaving, then round the block and past the stop again (30 s within 100 m of it) on the
    # way: the stop ended when the device left, and the drive past is no part of it.
    pts = stay(1, 0, 30)
    out = [fix(100 + k, 1800 + 15 * k, 200 + 100 * k) for k in range(4)]  # north, 200-500 m
    past = [fix(200 + k, 1860 + 15 * k, 60 - 40 * k, 50) for k in range(3)]  # 60, 20, -20 m
    on = [fix(300 + k, 1905 + 15 * k, -200 - 150 * k, 50) for k in range(14)]
    events = run(pts + out + past + on)
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
    events = run([*pts, *away(500, 3600)])
    assert [e.kind for e in events] == [Kind.VISIT_STARTED, Kind.VISIT_ENDED]


@pytest.mark.parametrize("parking_s", [0, 180])
def test_approach_fixes_do_not_split_the_stay_when_the_fixes_indoors_settle(
    parking_s: float,
) -> None:
    """Parking and walking in: fixes 94, 85, 67 and 45 m out start the stop, then (after the
    minutes it takes to park, with no fix) the indoor fixes settle around the door. The
    approach was not a stay of its own: one stop, from the first fix of the approach, where
    the indoor fixes are (issue 23's arrival split; with parking it used to be two visits)."""
    approach = [fix(1 + i, 15 * i, 0, east) for i, east in enumerate((94, 85, 67, 45))]
    t0 = 90 + parking_s
    indoors = [fix(10 + i, t0 + 30 * i, (i % 3) * 4 - 4, (i % 2) * 5) for i in range(50)]
    events = run(approach + indoors + away(100, t0 + 1530))
    assert [e.kind for e in events] == [Kind.VISIT_STARTED, Kind.VISIT_ENDED]
    assert events[0].t == 0 and events[1].t == t0 + 49 * 30
    assert abs(events[1].data["lon"] - fix(0, 0, 0, 1).lon) < 10 / 88_000  # at the door


def test_a_short_stay_next_door_after_a_settled_one_still_splits() -> None:
    """The median of a young stop's points does not hide a real move: 6 minutes at A, then
    the fixes settle 60 m away at B for 10 minutes."""
    pts = stay(1, 0, 6) + stay(100, 390, 10, north=60)
    events = run(pts)
    assert [e.kind for e in events][:3] == [
        Kind.VISIT_STARTED,
        Kind.VISIT_ENDED,
        Kind.VISIT_STARTED,
    ]


@pytest.mark.parametrize("good_first", [True, False])
def test_of_two_fixes_at_one_time_the_most_accurate_is_kept(good_first: bool) -> None:
    """Issue 23: a fix 83 m out with 58 m accuracy was kept and one 3 m from the door with
    6.9 m accuracy flagged a duplicate, because its client id sorted later. Whichever comes
    first (in id or in arrival), the accurate one moves presence."""
    bad = fix(2 if good_first else 1, 600, 83, 0, acc=58)
    good = fix(1 if good_first else 2, 600, 3, 0, acc=6.9)
    before = stay(100, 0, 10)[:-1]  # at the door until 570 s
    res = process("dev", DeviceState(), [(p, {}) for p in [*before, bad, good]], CFG)
    assert res.flags == {bad.client_id: Flag.DUPLICATE}
    assert res.state.last == good
