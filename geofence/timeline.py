"""Late and out-of-order points: replay from a checkpoint, then reconcile the events.

After every batch the device's state is checkpointed at its last processed point. A batch
whose points are all newer continues from the live state. A batch with an older point
replays from the newest checkpoint before that point, over every stored point since, and
compares the events with the ones already recorded from those points: new ones are added
(marked replayed), ones no longer implied are retracted, the rest are left alone. So the
recorded, unretracted events are the same whatever order the points arrived in, and no
event is recorded twice (ids are deterministic).

One algorithm decides where a batch starts from (`start_run`), behind a small store interface
(`TimelineStore`: checkpoints, points and the events recorded from them). `MemoryTimeline`
keeps everything in memory (tests, tools); the backend's store keeps it in PostgreSQL
(backend/tracking/ingest.py). A device exited for silence by the clock whose next points
continue within the silence timeout of its last one was not silent after all: the batch
replays from before that last point, so the exit is retracted and the stay goes on.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from geofence.device import DeviceState, EngineConfig, Near, Produced, process
from geofence.types import Event, Fix

Order = tuple[float, str]
START: Order = (float("-inf"), "")
T = TypeVar("T")


def before(t: float) -> Order:
    """The order just before every point at time `t` (client ids sort after "")."""
    return (t, "")


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


class TimelineStore(Protocol):
    """Where a device's checkpoints, points and recorded events live."""

    async def checkpoint_before(self, order: Order) -> tuple[Order, DeviceState] | None:
        """The newest checkpoint strictly before `order`: its order and state."""
        ...

    async def forget_checkpoints_after(self, order: Order) -> None:
        """Drop the checkpoints after `order` (a replay makes them again)."""
        ...

    async def points_after(self, order: Order) -> list[Fix]:
        """Every stored point after `order`, in order."""
        ...

    async def recorded_after(self, order: Order) -> dict[str, Order]:
        """The live events produced by the points after `order`: id -> producer."""
        ...


@dataclass(slots=True)
class Run:
    """What the engine runs over for a batch: from which state, which points, and the events
    already recorded from them (empty when the batch simply continues)."""

    state: DeviceState
    todo: list[Fix]
    recorded: dict[str, Order]
    replay: bool  # a point at or before the last one processed
    resume: bool  # the device was exited for silence, and is not silent after all


async def start_run(
    store: TimelineStore,
    live: DeviceState | None,
    last: Order | None,
    fresh: list[Fix],
    cfg: EngineConfig,
) -> Run:
    """Where a batch of `fresh` points (sorted, stored already) starts from, given the live
    state and the last point it processed."""
    replay = last is not None and fresh[0].t <= last[0]
    resume = (
        not replay
        and last is not None
        and live is not None
        and live.silenced_at is not None
        and fresh[0].t - live.silenced_at <= cfg.silent_after_s
    )
    if not (replay or resume):
        return Run(live or DeviceState(), fresh, {}, False, False)
    assert last is not None
    # Same-time fixes are judged together: a replay starts before every point at the oldest
    # fresh point's time. A resume starts before the last point (its exit came after it).
    oldest = before(fresh[0].t) if replay else last
    found = await store.checkpoint_before(oldest)
    start, state = found if found is not None else (START, DeviceState())
    await store.forget_checkpoints_after(start)
    todo = await store.points_after(start)
    recorded = await store.recorded_after(start)
    return Run(state, todo, recorded, replay, resume)


def run_now(coro: Coroutine[Any, Any, T]) -> T:
    """The result of a coroutine that never waits (an in-memory store's), without a loop."""
    try:
        coro.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    coro.close()
    raise RuntimeError("the store waited for something: run it in an event loop")


@dataclass
class MemoryTimeline:
    """The timeline of one device with everything in memory: the same algorithm as the
    backend's, over a store of dictionaries and lists."""

    device: str
    near: Callable[[Fix], Near]
    cfg: EngineConfig = field(default_factory=EngineConfig)
    points: dict[str, Fix] = field(default_factory=dict)
    checkpoints: list[tuple[Order, dict[str, object]]] = field(default_factory=list)
    live: dict[str, tuple[Event, Order]] = field(default_factory=dict)
    retracted: dict[str, Event] = field(default_factory=dict)
    state: DeviceState | None = None
    last: Order | None = None

    async def checkpoint_before(self, order: Order) -> tuple[Order, DeviceState] | None:
        i = bisect.bisect_left([c[0] for c in self.checkpoints], order)
        if i == 0:
            return None
        at, state = self.checkpoints[i - 1]
        return at, DeviceState.from_dict(state)

    async def forget_checkpoints_after(self, order: Order) -> None:
        self.checkpoints = [c for c in self.checkpoints if c[0] <= order]

    async def points_after(self, order: Order) -> list[Fix]:
        return sorted((f for f in self.points.values() if f.order > order), key=lambda f: f.order)

    async def recorded_after(self, order: Order) -> dict[str, Order]:
        return {eid: by for eid, (_, by) in self.live.items() if by > order}

    def ingest(self, batch: list[Fix]) -> Reconciled:
        fresh = {f.client_id: f for f in batch if f.client_id not in self.points}
        if not fresh:
            return Reconciled([], [])
        self.points.update(fresh)
        todo = sorted(fresh.values(), key=lambda f: f.order)
        run = run_now(start_run(self, self.state, self.last, todo, self.cfg))
        result = process(self.device, run.state, [(f, self.near(f)) for f in run.todo], self.cfg)
        rec = reconcile(result.produced, run.recorded)
        self._record(rec)
        self.state, self.last = result.state, run.todo[-1].order
        self.checkpoints.append((self.last, result.state.to_dict()))
        return rec

    def exit_silent(self, now: float) -> Reconciled:
        """The silent-device job: a device with no point since `silent_after_s` is exited
        (its stays end at its last point)."""
        if self.state is None:
            return Reconciled([], [])
        result = process(self.device, self.state, [], self.cfg, now=now)
        rec = Reconciled([p for p in result.produced if p.event.id not in self.live], [])
        self._record(rec)
        self.state = result.state
        return rec

    def _record(self, rec: Reconciled) -> None:
        for eid in rec.retracted:
            self.retracted[eid] = self.live.pop(eid)[0]
        for p in rec.added:
            self.live[p.event.id] = (p.event, p.by)
            self.retracted.pop(p.event.id, None)  # implied again: it stands

    @property
    def events(self) -> list[Event]:
        return sorted((e for e, _ in self.live.values()), key=lambda e: (e.t, e.kind, e.id))
