"""The engine's replay in memory (geofence/timeline.py): late batches are reconciled against
what was recorded, re-sending adds nothing, and an event retracted and implied again stands."""

from __future__ import annotations

from geofence.device import Produced
from geofence.timeline import MemoryTimeline, reconcile
from geofence.types import Kind, make_event
from tests.geofence.helpers import fix
from tests.geofence.test_properties import NEAR as near  # the properties' three circles


def presence(tl: MemoryTimeline) -> list[tuple[str, str, float]]:
    return [
        (str(e.kind), e.subject, e.t)
        for e in tl.events
        if e.kind in (Kind.ENTERED, Kind.DWELLED, Kind.EXITED)
    ]


def test_reconcile_adds_the_new_retracts_the_gone_and_counts_each_id_once() -> None:
    a = make_event("d", Kind.ENTERED, 10, "f")
    b = make_event("d", Kind.EXITED, 90, "f")
    c = make_event("d", Kind.ENTERED, 20, "f")
    produced = [Produced(a, (10, "p1")), Produced(c, (20, "p2")), Produced(c, (20, "p2"))]
    rec = reconcile(produced, {a.id: (10, "p1"), b.id: (90, "p9")})
    assert [p.event.id for p in rec.added] == [c.id]
    assert rec.retracted == [b.id]


def test_a_late_batch_moves_the_entry_and_a_resend_adds_nothing() -> None:
    tl = MemoryTimeline("d", near)
    stay = [fix(100 + i, 1000 + 10 * i, (i % 3) * 2.0, acc=5.0) for i in range(31)]
    tl.ingest(stay)
    assert ("entered", "a", 1000) in presence(tl)
    early = [fix(1, 960, 0.0, acc=5.0), fix(2, 980, 1.0, acc=5.0)]
    rec = tl.ingest(early)
    assert rec.retracted and ("entered", "a", 960) in presence(tl)
    assert ("entered", "a", 1000) not in presence(tl)
    again = tl.ingest(early + stay[:5])
    assert (again.added, again.retracted) == ([], [])


def test_an_event_retracted_and_implied_again_stands() -> None:
    stay = [fix(100 + i, 1000 + 10 * i, (i % 3) * 2.0, acc=5.0) for i in range(31)]
    tl = MemoryTimeline("d", near)
    tl.ingest(stay)
    first = presence(tl)
    tl.ingest([fix(1, 500, 0.0, acc=5.0)])  # an earlier point: the stay began then
    assert presence(tl) != first
    tl.ingest([fix(2, 600, 800.0, acc=5.0), fix(3, 700, 800.0, acc=5.0)])  # it was passing
    assert presence(tl) == first


def test_a_device_exited_for_silence_that_was_not_silent_goes_on() -> None:
    """The silent-device job exits a stay after 30 minutes without a point; the next batch
    continues within the timeout of the last point (it was recorded, just uploaded late): the
    exit is retracted and the stay goes on, as if the batch had come in time."""
    first = [fix(100 + i, 1000 + 30 * i, (i % 3) * 2.0, acc=5.0) for i in range(20)]
    rest = [fix(200 + i, 1600 + 30 * i, (i % 3) * 2.0, acc=5.0) for i in range(20)]
    tl = MemoryTimeline("d", near)
    tl.ingest(first)
    exits = tl.exit_silent(now=first[-1].t + 1900)
    assert any(p.event.kind is Kind.EXITED for p in exits.added)
    rec = tl.ingest(rest)
    assert {e for e in rec.retracted} >= {
        p.event.id for p in exits.added if p.event.kind is Kind.EXITED
    }
    whole = MemoryTimeline("d", near)
    whole.ingest(first + rest)
    assert presence(tl) == presence(whole)
