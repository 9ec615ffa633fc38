"""Properties of the engine that must hold for any input (hypothesis)."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geofence.device import DeviceState, EngineConfig, process
from geofence.shapes import near_function
from geofence.timeline import MemoryTimeline
from geofence.types import Event, Fix, Kind
from tests.geofence.helpers import circle, fix

FENCES = [
    circle("a", radius_m=100, dwell_s=120),
    circle("b", radius_m=250, dwell_s=600, exit_buffer_m=40),
    circle("c", radius_m=60, dwell_s=180, hold=True),  # a customer's door
]
NEAR = near_function(FENCES)
CFG = EngineConfig()


@st.composite
def tracks(draw: st.DrawFn) -> list[Fix]:
    """A device wandering in and out of three nested circles, sometimes badly measured."""
    n = draw(st.integers(min_value=1, max_value=60))
    t, north, points = 0.0, draw(st.floats(-600, 600)), []
    for i in range(n):
        t += draw(st.sampled_from([5, 15, 30, 60, 120, 400, 2500]))
        north = max(-800.0, min(800.0, north + draw(st.floats(-150, 150))))
        acc = draw(st.sampled_from([3.0, 10.0, 25.0, 60.0, 300.0]))
        mock = draw(st.integers(0, 30)) == 0
        points.append(fix(i, t, north, draw(st.floats(-30, 30)), acc=acc, mock=mock))
        if draw(st.integers(0, 8)) == 0:  # two fixes with one time (two location providers)
            twin_acc = draw(st.sampled_from([3.0, 10.0, 60.0]))
            points.append(fix(10_000 + i, t, north + draw(st.floats(-90, 90)), acc=twin_acc))
    return points


def in_order(points: list[Fix]) -> list[Event]:
    items = [(p, NEAR(p)) for p in sorted(points, key=lambda f: f.order)]
    events = process("dev", DeviceState(), items, CFG).events
    return sorted({e.id: e for e in events}.values(), key=lambda e: (e.t, e.kind, e.id))


def batches(points: list[Fix], seed: int) -> list[list[Fix]]:
    rng = random.Random(seed)
    shuffled = points[:]
    rng.shuffle(shuffled)
    cuts = (
        sorted(rng.sample(range(1, len(shuffled)), k=min(len(shuffled) - 1, rng.randint(0, 6))))
        if len(shuffled) > 1
        else []
    )
    out, start = [], 0
    for c in [*cuts, len(shuffled)]:
        out.append(shuffled[start:c])
        start = c
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tracks(), st.integers(0, 10_000))
def test_any_arrival_order_gives_the_same_events(points: list[Fix], seed: int) -> None:
    timeline = MemoryTimeline("dev", NEAR, CFG)
    for batch in batches(points, seed):
        timeline.ingest(batch)
    assert timeline.events == in_order(points)


@settings(max_examples=100, deadline=None)
@given(tracks(), st.integers(0, 10_000))
def test_resending_a_batch_adds_nothing(points: list[Fix], seed: int) -> None:
    timeline = MemoryTimeline("dev", NEAR, CFG)
    sent = batches(points, seed)
    for batch in sent:
        timeline.ingest(batch)
    before = timeline.events
    again = random.Random(seed).choice(sent)
    result = timeline.ingest(again)
    assert result.added == [] and result.retracted == []
    assert timeline.events == before


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(3, 60), st.floats(-1, 1), st.sampled_from([5, 20, 60, 300])),
        min_size=1,
        max_size=80,
    )
)
def test_jitter_across_the_border_within_accuracy_never_exits(
    walk: list[tuple[float, float, int]],
) -> None:
    fence = circle("j", radius_m=120, dwell_s=300, exit_buffer_m=0)
    near = near_function([fence])
    points = [fix(0, 0, 0), fix(9999, 60, 0)]  # clearly inside for a minute: entered
    t = 60.0
    for i, (acc, where, dt) in enumerate(walk, start=1):
        t += dt
        # Distance to the border within the point's accuracy, on either side.
        points.append(fix(i, t, 120 + where * acc * 0.999, acc=acc))
    events = process("dev", DeviceState(), [(p, near(p)) for p in points], EngineConfig()).events
    assert [e.kind for e in events if e.kind in (Kind.ENTERED, Kind.EXITED)] == [Kind.ENTERED]
