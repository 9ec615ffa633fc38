"""The presence state machine for one device and its fences.

Enter: points have been inside (at all) for `enter_after_s` (`enter_after_drive_s` when the
first came by vehicle, `drove_in`: a car waiting at a red light inside is not an entry), at least
two of them, and have settled (those of the last `settle_s`, and the one before, lie within
`settled_m` of the latest: a car crawling through in slow traffic, inside for a minute, is
still moving), stamped at the first. Time and stillness, not a number of fixes, and not one
point however deep inside: at one fix a second three fixes are three seconds, and a car
slowing through a fence at a junction has points well inside it (on the real traces, cars
entered the 26 fences they drove through 17 times when one such point was enough). So driving
through a fence is not a visit to it, at any sampling rate, and a stay is.
Exit: points outside by more than max(accuracy, the fence's exit buffer) for `min_exit_s`,
stamped at the first of them.
A point in between (inside the buffer, or inside without margin) changes nothing: jitter
at the border never produces an exit / enter pair. Dwell fires once per stay; a visit id is
made at enter and carried through dwell and exit; exit carries the stay's duration.
A fence whose rule says `hold` announces a stay only when it dwells: the enter, stamped when
it happened, comes with the dwell, and a shorter stay (driving past, waiting next door for a
few minutes) produces no event at all.

Held fences (customers' doors) are one stay at a time. Neighbours in one building have fences
that overlap, and an agent at one of them is inside the others too: of the held fences the
device is inside, only the one it is deepest in (a time-weighted average of how far inside
its recent fixes were, less for inaccurate ones) announces its stay; the others say nothing
while that stay lasts. When it ends and the device is still inside another, that one can
announce in turn, once the device has stayed there its dwell time since: the agent moved next
door.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from geofence.distance import haversine_m
from geofence.types import Event, FenceRule, Fix, Kind, event_id, make_event

INF = math.inf


@dataclass(frozen=True, slots=True)
class PresenceConfig:
    # A streak of points inside enters once it has lasted this long (and has two points):
    # longer than a car takes to cross a 100 m fence at 5 m/s, shorter than walking in.
    enter_after_s: float = 45.0
    min_exit_s: float = 60.0
    # Settled: the fixes of the last settle_s (and the one before) within settled_m of the
    # latest. Walking pace covers 40 m in 30 s, a car crawling at 2 m/s 60 m; GPS noise
    # outdoors, a few metres.
    settle_s: float = 30.0
    settled_m: float = 25.0
    # A device that came in by vehicle (drove_in) is entered only after longer than a red
    # light lasts (Seoul's longest reds are about two minutes): a car standing at a light
    # inside a fence is not an entry, a driver who parks and walks in is, stamped when the
    # car came in.
    vehicle_mps: float = 5.0
    walk_mps: float = 2.5  # faster than anyone walks in
    speed_accuracy_m: float = 20.0  # fixes less accurate than this tell no speed
    enter_after_drive_s: float = 120.0


def drove_in(last: Fix | None, fix: Fix, cfg: PresenceConfig) -> bool:
    """Whether the device came to `fix` from its previous good fix by vehicle: at
    `vehicle_mps` or more between them, or faster than walking (`walk_mps`) over the distance
    beyond both fixes' accuracy. The straight line between two fixes understates a car that
    stopped on the way (at a red light, with 27 s between fixes, a car at 12 m/s showed
    2.9 m/s); taking off both accuracies keeps a standing phone's scatter out. Nothing is
    told after a gap of over two minutes, or by a fix less accurate than `speed_accuracy_m`
    (a reflection indoors jumps 100 m in seconds)."""
    if last is None or not 0 < fix.t - last.t <= 120:
        return False
    if max(last.accuracy_m, fix.accuracy_m) > cfg.speed_accuracy_m:
        return False
    dt = fix.t - last.t
    d = haversine_m(last.lat, last.lon, fix.lat, fix.lon)
    return d >= cfg.vehicle_mps * dt or d - last.accuracy_m - fix.accuracy_m >= cfg.walk_mps * dt


@dataclass(slots=True)
class Stay:
    """A device's state at one fence."""

    inside: bool = False
    entered_t: float = 0.0
    visit_id: str = ""
    dwelled: bool = False
    out_since: float | None = None
    streak: int = 0
    streak_t: float | None = None
    dwell_s: float = 300.0
    hold: bool = False
    announced: bool = True  # whether its enter was emitted (a held stay: once it dwells)
    # Held fences: how deep inside the recent fixes were (m; time-weighted), when last
    # updated, and the time its stay may begin from (the end of a neighbour's stay).
    depth: float = 0.0
    depth_t: float = 0.0
    since: float = 0.0
    rival_since: float = 0.0  # an announced one: since when a neighbour has been deeper
    trail: list[list[float]] = field(default_factory=list)  # an entry's recent (t, lat, lon)
    drove_in: bool = False  # the entry's first point came at vehicle speed

    def to_dict(self) -> dict[str, Any]:
        return {s: getattr(self, s) for s in self.__slots__}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Stay:
        return cls(**d)

    @property
    def idle(self) -> bool:
        return not self.inside and self.streak == 0


DEPTH_TAU_S = 60.0  # how long a fix's depth counts, roughly
DEPTH_ACCURACY_M = 20.0  # fixes less accurate than this count for less
NEXT_DOOR_M = 10.0  # deeper by this much in a neighbour's fence, for its dwell: moved there


def _deepen(stay: Stay, fix: Fix, d: float) -> None:
    """Fold a fix's depth inside (-d) into the stay's time-weighted average."""
    if stay.depth_t == 0.0:
        stay.depth, stay.depth_t = -d, fix.t
        return
    w = (1.0 - math.exp(-max(0.0, fix.t - stay.depth_t) / DEPTH_TAU_S)) * min(
        1.0, DEPTH_ACCURACY_M / max(fix.accuracy_m, 1.0)
    )
    stay.depth += w * (-d - stay.depth)
    stay.depth_t = fix.t


@dataclass(slots=True)
class Presence:
    """All of one device's fence stays (only fences it is in or near are kept)."""

    stays: dict[str, Stay] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {k: v.to_dict() for k, v in self.stays.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Presence:
        return cls({k: Stay.from_dict(v) for k, v in d.items()})

    def step(
        self,
        device: str,
        fix: Fix,
        near: dict[str, tuple[float, FenceRule]],
        cfg: PresenceConfig,
        came_from: Fix | None = None,
    ) -> list[Event]:
        """Advance with one good fix; `near` maps fence id to (signed distance m, rule);
        `came_from`, the device's previous good fix (how it came: drove_in).

        Negative distance is inside. Fences missing from `near` are far away (outside).
        """
        events: list[Event] = []
        stays = self.stays
        if not near and not stays:
            return events  # the common case: nowhere near any fence
        fids = stays.keys() | near.keys()
        held = False
        released: float | None = None
        for fid in sorted(fids) if len(fids) > 1 else fids:
            d, rule = near.get(fid, (INF, None))
            stay = stays.get(fid)
            if stay is None:
                if d > 0:
                    continue  # outside a fence it was not at: nothing starts, nothing is kept
                stay = Stay(dwell_s=rule.dwell_s if rule else 300.0)
            if rule is not None:
                stay.dwell_s, stay.hold = rule.dwell_s, rule.hold
            exit_buffer = rule.exit_buffer_m if rule else 0.0
            if stay.hold and d < INF:
                _deepen(stay, fix, d)
            if stay.inside and stay.dwelled and d <= max(fix.accuracy_m, exit_buffer):
                stay.out_since = None  # the common case of a stay going on: as _inside does
                held = held or stay.hold
                continue
            was_dwelling = stay.inside and stay.dwelled and stay.hold
            if stay.inside:
                self._inside(device, fid, fix, d, exit_buffer, stay, cfg, events)
            else:
                self._outside(device, fid, fix, d, stay, cfg, events, came_from)
            if was_dwelling and not stay.inside:
                released = self._exit_of(events, fid, fix.t)
            held = held or (stay.hold and stay.inside)
            if stay.idle:
                stays.pop(fid, None)
            else:
                stays[fid] = stay
        if held or released is not None:
            self._one_held_stay(device, fix.t, released, events)
        return events

    @staticmethod
    def _exit_of(events: list[Event], fid: str, default: float) -> float:
        """When the stay at `fid` just closed (its exit event's time)."""
        return next(
            (e.t for e in reversed(events) if e.subject == fid and e.kind is Kind.EXITED), default
        )

    def _one_held_stay(
        self, device: str, t: float, released: float | None, out: list[Event]
    ) -> None:
        """Of the held fences the device is inside, announce at most one stay at a time: the
        deepest, once it has lasted its dwell time (since a neighbour's stay ended, if one
        did while the device was inside it)."""
        inside = {fid: s for fid, s in self.stays.items() if s.hold and s.inside}
        if released is not None:
            for s in inside.values():
                if not s.dwelled:
                    s.since = max(s.since, released)
        if not inside:
            return
        current = next((f for f, s in inside.items() if s.dwelled), None)
        if current is not None:
            Presence._next_door(device, t, current, inside, out)
            return
        best = max(inside, key=lambda f: (inside[f].depth, f))
        stay = inside[best]
        begun = max(stay.entered_t, stay.since)
        # On a fix inside it (not one on the way out), as any fence dwells.
        if stay.out_since is None and t - begun >= stay.dwell_s:
            Presence._announce(device, best, begun, stay, out)

    @staticmethod
    def _outside(
        device: str,
        fid: str,
        fix: Fix,
        d: float,
        stay: Stay,
        cfg: PresenceConfig,
        out: list[Event],
        came_from: Fix | None = None,
    ) -> None:
        if d <= 0:
            if stay.streak_t is None:
                stay.drove_in = drove_in(came_from, fix, cfg)
            stay.streak += 1
            stay.streak_t = fix.t if stay.streak_t is None else stay.streak_t
            Presence._follow(stay, fix, cfg)
            enter_after = cfg.enter_after_drive_s if stay.drove_in else cfg.enter_after_s
            if (
                stay.streak < 2
                or fix.t - stay.streak_t < enter_after
                or not Presence._settled(stay, fix, cfg)
            ):
                return
            entered = stay.streak_t
        else:
            stay.streak, stay.streak_t, stay.trail, stay.drove_in = 0, None, [], False
            return
        stay.inside, stay.entered_t, stay.dwelled, stay.out_since = True, entered, False, None
        stay.streak, stay.streak_t, stay.trail = 0, None, []
        stay.visit_id = event_id(device, "visit", fid, entered)
        stay.announced = not stay.hold
        if stay.announced:
            out.append(make_event(device, Kind.ENTERED, entered, fid, visit_id=stay.visit_id))
        Presence._maybe_dwell(device, fid, fix.t, stay, out)

    @staticmethod
    def _follow(stay: Stay, fix: Fix, cfg: PresenceConfig) -> None:
        """Keep the entry's fixes of the last settle_s, and the one before them."""
        trail = [*stay.trail, [fix.t, fix.lat, fix.lon]]
        recent = [i for i, p in enumerate(trail) if p[0] >= fix.t - cfg.settle_s]
        stay.trail = trail[max(0, recent[0] - 1) :]

    @staticmethod
    def _settled(stay: Stay, fix: Fix, cfg: PresenceConfig) -> bool:
        return all(haversine_m(fix.lat, fix.lon, p[1], p[2]) <= cfg.settled_m for p in stay.trail)

    @staticmethod
    def _inside(
        device: str,
        fid: str,
        fix: Fix,
        d: float,
        exit_buffer: float,
        stay: Stay,
        cfg: PresenceConfig,
        out: list[Event],
    ) -> None:
        if d > max(fix.accuracy_m, exit_buffer):
            stay.out_since = fix.t if stay.out_since is None else stay.out_since
            if fix.t - stay.out_since >= cfg.min_exit_s:
                Presence.close(device, fid, stay, stay.out_since, out)
            return
        stay.out_since = None
        Presence._maybe_dwell(device, fid, fix.t, stay, out)

    @staticmethod
    def _next_door(
        device: str, t: float, current: str, inside: dict[str, Stay], out: list[Event]
    ) -> None:
        """The announced stay ends, and a neighbour's begins, when the device has been deeper
        in the neighbour's fence (by NEXT_DOOR_M) for the neighbour's dwell time."""
        cur = inside[current]
        rivals = [f for f in inside if f != current]
        rival = max(rivals, key=lambda f: (inside[f].depth, f)) if rivals else None
        if rival is None or inside[rival].depth < cur.depth + NEXT_DOOR_M:
            cur.rival_since = 0.0
            return
        if cur.rival_since == 0.0:
            cur.rival_since = t
        other = inside[rival]
        if other.out_since is None and t - cur.rival_since >= other.dwell_s:
            at = cur.rival_since
            Presence.close(device, current, cur, at, out)
            cur.rival_since = 0.0
            other.since = max(other.since, at)
            Presence._announce(device, rival, max(other.entered_t, at), other, out)

    @staticmethod
    def _maybe_dwell(device: str, fid: str, t: float, stay: Stay, out: list[Event]) -> None:
        # Held fences dwell one at a time (_one_held_stay, after every fence has seen the fix).
        if stay.hold or stay.dwelled or t - stay.entered_t < stay.dwell_s:
            return
        Presence._announce(device, fid, stay.entered_t, stay, out)

    @staticmethod
    def _announce(device: str, fid: str, begun: float, stay: Stay, out: list[Event]) -> None:
        """The stay dwells: its enter (a held one's, stamped when it began), dwell and the
        fence's sighting of a visit."""
        stay.dwelled = True
        if not stay.announced:
            stay.announced = True
            stay.entered_t = begun
            out.append(make_event(device, Kind.ENTERED, begun, fid, visit_id=stay.visit_id))
        at = begun + stay.dwell_s
        out.append(make_event(device, Kind.DWELLED, at, fid, visit_id=stay.visit_id))
        out.append(
            make_event(
                device, Kind.VISIT_STARTED, begun, fid, visit_id=stay.visit_id, source="geofence"
            )
        )

    @staticmethod
    def close(device: str, fid: str, stay: Stay, at: float, out: list[Event], **data: Any) -> None:
        """Exit the stay at time `at` (also used when the device goes silent)."""
        duration = max(0.0, at - stay.entered_t)
        if stay.announced:
            out.append(
                make_event(
                    device,
                    Kind.EXITED,
                    at,
                    fid,
                    visit_id=stay.visit_id,
                    duration_s=duration,
                    **data,
                )
            )
        if stay.dwelled:
            out.append(
                make_event(
                    device,
                    Kind.VISIT_ENDED,
                    at,
                    fid,
                    visit_id=stay.visit_id,
                    source="geofence",
                    duration_s=duration,
                )
            )
        stay.inside, stay.out_since, stay.dwelled, stay.announced = False, None, False, True
        stay.streak, stay.streak_t = 0, None

    def force(
        self, device: str, fid: str, inside: bool, at: float, rule: FenceRule, reason: str
    ) -> list[Event]:
        """A synthetic enter or exit because the fence itself changed (created, moved, deleted)."""
        out: list[Event] = []
        stay = self.stays.get(fid)
        if inside and not (stay and stay.inside):
            # The fence itself changed: announced at once, whatever its rule.
            stay = Stay(dwell_s=rule.dwell_s, hold=rule.hold, inside=True, entered_t=at)
            stay.visit_id = event_id(device, "visit", fid, at)
            self.stays[fid] = stay
            out.append(
                make_event(device, Kind.ENTERED, at, fid, visit_id=stay.visit_id, synthetic=reason)
            )
        elif not inside and stay is not None and stay.inside:
            self.close(device, fid, stay, at, out, synthetic=reason)
            del self.stays[fid]
        return out

    def close_all(self, device: str, at: float) -> list[Event]:
        out: list[Event] = []
        for fid in sorted(self.stays):
            stay = self.stays[fid]
            if stay.inside:
                self.close(device, fid, stay, at, out)
        self.stays.clear()
        return out
