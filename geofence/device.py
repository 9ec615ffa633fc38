"""One device's engine: filters, then presence and stops, in fix-time order; and its state.

`process` is a pure function of (state, sorted points): the same points from the same state
always give the same events and the same end state, however they were split into batches.
That is what makes late batches replayable (see timeline.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from geofence.filters import FilterConfig, flag_for
from geofence.presence import Presence, PresenceConfig
from geofence.spoof import (
    Evidence,
    SpoofConfig,
    Trail,
    mock_location,
    new_episode,
    remember,
    teleport,
)
from geofence.stops import StopConfig, StopState
from geofence.types import Event, FenceRule, Fix, Flag, Kind, make_event

Near = dict[str, tuple[float, FenceRule]]
JUMPS_TO_TRUST = 3  # consistent "impossible" fixes in a row: the old position was the wrong one


@dataclass(frozen=True, slots=True)
class EngineConfig:
    filters: FilterConfig = field(default_factory=FilterConfig)
    presence: PresenceConfig = field(default_factory=PresenceConfig)
    stops: StopConfig = field(default_factory=StopConfig)
    spoof: SpoofConfig = field(default_factory=SpoofConfig)
    silent_after_s: float = 1800.0


def _fix_dict(f: Fix) -> dict[str, Any]:
    return {s: getattr(f, s) for s in Fix.__slots__}


@dataclass(slots=True)
class DeviceState:
    last: Fix | None = None
    presence: Presence = field(default_factory=Presence)
    stops: StopState = field(default_factory=StopState)
    jumps: list[Fix] = field(default_factory=list)
    # Set when the device was exited for silence by the clock (no word from it), not by a gap
    # between its own points: the exit is provisional, and points that continue within the
    # silence timeout of the last one undo it (the backend replays them from before it).
    silenced_at: float | None = None
    # The time of the last spoof evidence: evidence within the episode gap raises no new signal.
    spoof_t: float | None = None
    # Places the device has been (geofence/spoof.py): a jump back to one is no teleport.
    trail: Trail = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "last": _fix_dict(self.last) if self.last else None,
            "presence": self.presence.to_dict(),
            "stops": self.stops.to_dict(),
            "jumps": [_fix_dict(j) for j in self.jumps],
            "silenced_at": self.silenced_at,
            "spoof_t": self.spoof_t,
            "trail": [list(p) for p in self.trail],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> DeviceState:
        if not d:
            return cls()
        return cls(
            last=Fix(**d["last"]) if d.get("last") else None,
            presence=Presence.from_dict(d["presence"]),
            stops=StopState.from_dict(d["stops"]),
            jumps=[Fix(**j) for j in d.get("jumps", [])],
            silenced_at=d.get("silenced_at"),
            spoof_t=d.get("spoof_t"),
            trail=[(p[0], p[1]) for p in d.get("trail", [])],
        )

    @property
    def inside(self) -> list[str]:
        return sorted(fid for fid, s in self.presence.stays.items() if s.inside)


@dataclass(slots=True)
class Produced:
    """An event and the point whose processing produced it."""

    event: Event
    by: tuple[float, str]


@dataclass(slots=True)
class Result:
    produced: list[Produced]
    flags: dict[str, Flag]
    state: DeviceState

    @property
    def events(self) -> list[Event]:
        return [p.event for p in self.produced]


def _silence(device: str, state: DeviceState, at: float) -> list[Event]:
    events = [make_event(device, Kind.DEVICE_SILENT, at, device)]
    events += state.presence.close_all(device, at)
    events += state.stops.end(device)
    return events


def end_day(device: str, state: DeviceState) -> list[Produced]:
    """The working day is over (the shift ended, or the app said so): every open stay ends
    at the device's last point, as silence would end it. Points that continue the stay
    within the silence timeout reopen it (the ingest's resume replays them)."""
    last = state.last
    if last is None or state.silenced_at is not None:
        return []
    if not (state.presence.stays or state.stops.started):
        return []
    events = state.presence.close_all(device, last.t) + state.stops.end(device)
    state.silenced_at = last.t
    return [Produced(e, last.order) for e in events]


def _same_time_duplicates(fixes: list[Fix], cfg: FilterConfig) -> set[str]:
    """Of fixes with the same time (sorted input), all but the one to keep: the most
    accurate usable one (not mocked, within the accuracy limit), then the lowest client id.
    Which arrived first does not matter; a replay starts before the whole group."""
    out: set[str] = set()
    i = 0
    while i < len(fixes):
        j = i + 1
        while j < len(fixes) and fixes[j].t == fixes[i].t:
            j += 1
        if j - i > 1:
            group = fixes[i:j]
            best = min(
                group,
                key=lambda f: (
                    f.mock or not f.accuracy_m <= cfg.max_accuracy_m,
                    f.accuracy_m if math.isfinite(f.accuracy_m) else math.inf,
                    f.client_id,
                ),
            )
            out.update(f.client_id for f in group if f is not best)
        i = j
    return out


def process(
    device: str,
    state: DeviceState,
    items: list[tuple[Fix, Near]],
    cfg: EngineConfig,
    now: float | None = None,
) -> Result:
    """Run sorted points through the engine; with `now`, also exit a device silent since."""
    produced: list[Produced] = []
    flags: dict[str, Flag] = {}
    second_best = _same_time_duplicates([fix for fix, _ in items], cfg.filters)
    for fix, near in items:
        by = fix.order
        flag = (
            Flag.DUPLICATE
            if fix.client_id in second_best
            else flag_for(fix, state.last, cfg.filters)
        )
        evidence: Evidence | None = None
        if flag is Flag.MOCK:
            evidence = mock_location(fix)
        elif flag is Flag.SPEED_JUMP:
            prev_jump = state.jumps[-1] if state.jumps else None
            consistent = prev_jump is not None and flag_for(fix, prev_jump, cfg.filters) is None
            state.jumps = [*state.jumps, fix] if consistent else [fix]
            if state.last is not None:
                evidence = teleport(state.last, state.jumps, state.trail, cfg.spoof)
            if len(state.jumps) >= JUMPS_TO_TRUST:
                state.jumps, flag = [], None
        if evidence is not None:
            # One signal per episode; a jump alone (multipath) is a flagged point, no more.
            if new_episode(state.spoof_t, fix.t, cfg.spoof):
                ev = make_event(
                    device,
                    Kind.SPOOF_SUSPECTED,
                    fix.t,
                    fix.client_id,
                    reason=evidence.reason,
                    evidence=evidence.detail,
                )
                produced.append(Produced(ev, by))
            state.spoof_t = fix.t if state.spoof_t is None else max(state.spoof_t, fix.t)
        if flag is not None:
            flags[fix.client_id] = flag
            continue
        if state.jumps:
            state.jumps = []
        state.silenced_at = None
        state.trail = remember(state.trail, fix, cfg.spoof)
        if state.last is not None and fix.t - state.last.t > cfg.silent_after_s:
            produced += [Produced(e, by) for e in _silence(device, state, state.last.t)]
        events = state.presence.step(device, fix, near, cfg.presence, state.last)
        events += state.stops.step(device, fix, cfg.stops)
        if events:
            produced += [Produced(e, by) for e in events]
        state.last = fix
    last = state.last
    silent = now is not None and last is not None and now - last.t > cfg.silent_after_s
    if silent and last is not None and (state.presence.stays or state.stops.started):
        produced += [Produced(e, last.order) for e in _silence(device, state, last.t)]
        state.silenced_at = last.t
    return Result(produced, flags, state)
