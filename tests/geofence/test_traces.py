"""Real recorded GPS traces (../shared/bench/gps) through the engine: no crash, no flapping."""

from __future__ import annotations

from pathlib import Path

import pytest

from geofence.device import DeviceState, EngineConfig, process
from geofence.distance import haversine_m
from geofence.shapes import CircleFence, near_function
from geofence.timeline import MemoryTimeline
from geofence.traces import load_trace, trace_files
from geofence.types import Event, FenceRule, Fix, Kind

BENCH = Path(__file__).resolve().parents[2].parent / "shared" / "bench" / "gps"
TRACES = trace_files(BENCH)

pytestmark = pytest.mark.skipif(not TRACES, reason="../shared/bench/gps is not beside the project")


def load(path: Path) -> list[Fix]:
    return load_trace(path)


def fences_along(points: list[Fix]) -> list[CircleFence]:
    """Circles of several sizes centred on points of the trace itself, so it crosses them."""
    step = max(1, len(points) // 12)
    return [
        CircleFence(
            FenceRule(f"f{i}", dwell_s=120, exit_buffer_m=20),
            p.lat,
            p.lon,
            radius_m=[40, 80, 150][i % 3],
        )
        for i, p in enumerate(points[::step])
    ]


def flaps(
    events: list[Event], points: list[Fix], fences: list[CircleFence], jitter_m: float = 30.0
) -> list[tuple[str, float]]:
    """Exit / re-entry pairs the device never really left for: while "outside" it was never
    more than `jitter_m` (twice the fixes' accuracy) beyond the border. Real excursions are fine."""
    by_id = {f.rule.id: f for f in fences}
    out = []
    ordered = sorted(events, key=lambda e: (e.t, e.kind != Kind.EXITED))
    for i, e in enumerate(ordered):
        if e.kind is not Kind.EXITED:
            continue
        back = next(
            (x for x in ordered[i + 1 :] if x.subject == e.subject and x.kind is Kind.ENTERED), None
        )
        if back is None:
            continue
        fence = by_id[e.subject]
        between = [fence.signed_distance_m(p.lat, p.lon) for p in points if e.t <= p.t <= back.t]
        if max(between, default=0.0) < jitter_m:
            out.append((e.subject, e.t))
    return out


def inside_for(fence: CircleFence, points: list[Fix], start: float) -> float:
    """How long the points stay inside the fence (at all) from `start`, without a point out."""
    last = start
    for p in sorted(points, key=lambda f: f.t):
        if p.t < start:
            continue
        if fence.signed_distance_m(p.lat, p.lon) > 0:
            break
        last = p.t
    return last - start


def longest_still_inside(fence: CircleFence, points: list[Fix], span_m: float = 50.0) -> float:
    """The longest time the points stay inside the fence and within `span_m` of the first of
    that time, in seconds."""
    best = 0.0
    first: Fix | None = None
    for p in points:
        inside = fence.signed_distance_m(p.lat, p.lon) <= 0
        if (
            inside
            and first is not None
            and haversine_m(first.lat, first.lon, p.lat, p.lon) <= span_m
        ):
            best = max(best, p.t - first.t)
        elif inside:
            first = p
        else:
            first = None
    return best


@pytest.mark.parametrize("path", TRACES, ids=[p.name for p in TRACES])
def test_trace_replays_without_flapping(path: Path) -> None:
    points = load(path)
    assert len(points) > 0
    fences = fences_along(points)
    near = near_function(fences)
    items = [(p, near(p)) for p in sorted(points, key=lambda f: f.order)]
    result = process("trace", DeviceState(), items, EngineConfig())
    entered = [e for e in result.events if e.kind is Kind.ENTERED]
    exited = [e for e in result.events if e.kind is Kind.EXITED]
    assert len(exited) <= len(entered)
    # Entry is a stay, not a pass: a fence is entered only where the trace's own points stay
    # inside it for 45 s or more, and every fence the trace stays still in for two minutes
    # (its points within 50 m of where that began) is entered. Driving slowly through a
    # large fence for a minute is not a stay.
    by_id = {f.rule.id: f for f in fences}
    for e in entered:
        assert inside_for(by_id[e.subject], points, e.t) >= 45, e
    stayed = {f.rule.id for f in fences if longest_still_inside(f, points) >= 120}
    assert stayed <= {e.subject for e in entered}
    assert flaps(result.events, points, fences) == []
    # Every stay that ended has a non-negative duration and a visit id from its enter.
    visit_ids = {e.visit_id for e in entered}
    assert all(e.visit_id in visit_ids and e.data["duration_s"] >= 0 for e in exited)


def test_trace_in_offline_batches_gives_the_same_events() -> None:
    path = TRACES[0]
    points = load(path)
    near = near_function(fences_along(points))
    items = [(p, near(p)) for p in sorted(points, key=lambda f: f.order)]
    expected = process("trace", DeviceState(), items, EngineConfig()).events
    timeline = MemoryTimeline("trace", near)
    # Live points first, then the offline backlog of the first half, in reverse batch order.
    half = len(points) // 2
    timeline.ingest(points[half:])
    for start in range(half - half % 50, -1, -50):
        timeline.ingest(points[start : start + 50])
    assert timeline.events == sorted(
        {e.id: e for e in expected}.values(), key=lambda e: (e.t, e.kind, e.id)
    )
