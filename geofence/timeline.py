"""Late and out-of-order points: replay from a checkpoint, then reconcile the events.

After every batch the device's state is checkpointed at its last processed point. A batch
whose points are all newer continues from the live state. A batch with an older point
replays from the newest checkpoint before that point, over every stored point since, and
compares the events with the ones already recorded from those points: new ones are added
(marked replayed), ones no longer implied are retracted, the rest are left alone. So the
recorded, unretracted events are the same whatever order the points arrived in, and no
event is recorded twice (ids are deterministic).

`MemoryTimeline` keeps everything in memory (tests, tools); the backend does the same with
checkpoints, points and events in PostgreSQL.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field

from geofence.device import DeviceState, EngineConfig, Near, Produced, process
from geofence.types import Event, Fix

Order = tuple[float, str]
START: Order = (float("-inf"), "")


@dataclass(slots=True)
class Reconciled:
    added: list[Produced]
    retracted: list[str]


def reconcile(recomputed: list[Produced], recorded: dict[str, Order]) -> Reconciled:
    """`recorded`: ids of live events produced by the replayed points, with their producer."""
    seen: set[str] = set()
    added: list[Produced] = []
    for p in recomputed:
        if p.event.id in seen:
            continue
        seen.add(p.event.id)
        if p.event.id not in recorded:
            added.append(p)
    return Reconciled(added, sorted(set(recorded) - seen))


@dataclass
class MemoryTimeline:
    device: str
    near: Callable[[Fix], Near]
    cfg: EngineConfig = field(default_factory=EngineConfig)
    points: dict[str, Fix] = field(default_factory=dict)
    checkpoints: list[tuple[Order, dict[str, object]]] = field(default_factory=list)
    live: dict[str, tuple[Event, Order]] = field(default_factory=dict)
    retracted: dict[str, Event] = field(default_factory=dict)

    def ingest(self, batch: list[Fix]) -> Reconciled:
        fresh = {f.client_id: f for f in batch if f.client_id not in self.points}
        if not fresh:
            return Reconciled([], [])
        self.points.update(fresh)
        # From before every point with the oldest fresh time: same-time fixes are judged
        # together (the most accurate one is kept, whichever came first).
        oldest = (min(f.t for f in fresh.values()), "")
        orders = [c[0] for c in self.checkpoints]
        i = bisect.bisect_left(orders, oldest)  # checkpoints strictly before the oldest point
        del self.checkpoints[i:]
        start_order, start = self.checkpoints[-1] if self.checkpoints else (START, {})
        state = DeviceState.from_dict(start)
        todo = sorted(
            (f for f in self.points.values() if f.order > start_order), key=lambda f: f.order
        )
        result = process(self.device, state, [(f, self.near(f)) for f in todo], self.cfg)
        recorded = {eid: by for eid, (_, by) in self.live.items() if by > start_order}
        rec = reconcile(result.produced, recorded)
        for eid in rec.retracted:
            self.retracted[eid] = self.live.pop(eid)[0]
        for p in rec.added:
            self.live[p.event.id] = (p.event, p.by)
        self.checkpoints.append((todo[-1].order, result.state.to_dict()))
        return rec

    @property
    def events(self) -> list[Event]:
        return sorted((e for e, _ in self.live.values()), key=lambda e: (e.t, e.kind, e.id))
