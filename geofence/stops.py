"""Online stop detection: the device stayed within `radius_m` for at least `min_stay_s`.

A stop becomes a visit candidate (source "stop"); the backend keeps the ones near a
customer that has no fence. Gaps are fine while the device reappears in the same place
(a phone asleep in a meeting); a gap longer than `max_gap_s` ends the stop at its last point.
Points far away do not end a stop while they may be a reflection: indoors a fix jumps
40-150 m off for half a minute to two minutes, several fixes in a row, and comes back. A
device at a stop for a minute or more has left when its points have been far for
`max_away_s`; the stop then ends at its last point inside, and the points away begin what
follows. One that comes back sooner never left (an excursion to the car is the same stay).
A younger stop ends at the second point far in a row (one alone may be a reflection).

A short move within the radius (next door, 40-100 m) also ends a stop: when the median of
the last `window` points sits more than `shift_m` from where the stop was before them, and
those points are together (within `shift_m` of their median), a new stop begins at the first
of them. A median of several points is not moved by one reflection. While the stop is
young (its first `2 x window` points are kept), where it was before them is the median of
its earlier points, and only a stop whose earlier points were together splits: earlier
points spread along the street and the car park were the approach, 50-100 m out, and the
stop settles where the fixes indoors are, keeping its start (one stay, one stop). A long
stop's running mean has diluted its approach.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from geofence.distance import haversine_m
from geofence.types import Event, Fix, Kind, event_id, make_event


@dataclass(frozen=True, slots=True)
class StopConfig:
    radius_m: float = 100.0
    min_stay_s: float = 300.0
    max_gap_s: float = 3600.0
    shift_m: float = 35.0
    window: int = 6
    # Far for this long is gone: longer than an indoor reflection lasts (up to two minutes).
    # Only a stop already there for settled_after_s waits that long (two points far end a
    # younger one: a car moving on from a red light, a phone on the move).
    max_away_s: float = 180.0
    settled_after_s: float = 60.0
    # Back inside for this long is back (a car driving past the stop again is not).
    back_after_s: float = 60.0


@dataclass(slots=True)
class StopState:
    lat: float = 0.0
    lon: float = 0.0
    n: int = 0
    first_t: float = 0.0
    last_t: float = 0.0
    started: bool = False
    # The points since the first far one, waiting to tell a departure from a reflection (up
    # to max_away_s of them).
    excursion: list[list[float]] | None = None  # [[t, lat, lon, far (1.0 or 0.0)], ...]
    # The last points of the stop, to see it move next door.
    recent: list[list[float]] | None = None  # [[t, lat, lon], ...]
    # Its first points (up to 2 x window): where a young stop was, robustly.
    head: list[list[float]] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {s: getattr(self, s) for s in self.__slots__}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StopState:
        return cls(**{k: d[k] for k in cls.__slots__ if k in d})

    def stop_id(self, device: str) -> str:
        return event_id(device, "stop", "", self.first_t)

    def step(self, device: str, fix: Fix, cfg: StopConfig) -> list[Event]:
        return self._step(device, fix.t, fix.lat, fix.lon, cfg)

    def _step(self, device: str, t: float, lat: float, lon: float, cfg: StopConfig) -> list[Event]:
        out: list[Event] = []
        if self.n:
            if t - self.last_t > cfg.max_gap_s:
                out += self.end(device)
            elif self.last_t - self.first_t >= cfg.settled_after_s:
                if self.excursion or haversine_m(self.lat, self.lon, lat, lon) > cfg.radius_m:
                    return self._away(device, t, lat, lon, cfg)
            elif haversine_m(self.lat, self.lon, lat, lon) > cfg.radius_m:
                # A young stop (a phone on the move, the common case): one point far may be
                # a reflection, two in a row are a departure.
                if self.excursion is None:
                    self.excursion = [[t, lat, lon, 1.0]]
                    return out
                t0, lat0, lon0 = self.excursion[0][:3]
                out += self.end(device)
                self._begin(t0, lat0, lon0)
                if haversine_m(lat0, lon0, lat, lon) > cfg.radius_m:
                    self._begin(t, lat, lon)
                    return out
            else:
                self.excursion = None
        if self.n == 0:
            self._begin(t, lat, lon)
            return out
        return out + self._add(device, t, lat, lon, cfg)

    def _away(self, device: str, t: float, lat: float, lon: float, cfg: StopConfig) -> list[Event]:
        """A point while the device may have left a stop it was at for settled_after_s: wait
        and see, take it back, or end the stop and begin what follows with the points away."""
        # The stop's centre does not move while it waits: whether each point is far is
        # known once (the fourth of [t, lat, lon, far]).
        is_far = haversine_m(self.lat, self.lon, lat, lon) > cfg.radius_m
        away = [*(self.excursion or []), [t, lat, lon, float(is_far)]]
        far = [bool(p[3]) for p in away]
        inside = away[len(far) - far[::-1].index(True) :] if True in far else away
        if inside and inside[-1][0] - inside[0][0] >= cfg.back_after_s:
            # Back, and staying: a reflection, or an excursion to the car.
            self.excursion = None
            out: list[Event] = []
            for p in inside:
                out += self._add(device, p[0], p[1], p[2], cfg)
            return out
        if not far[-1] or t - away[0][0] < cfg.max_away_s:
            self.excursion = away  # wait and see
            return []
        # Gone: the stop ended at its last point inside; what follows began with the first
        # point away.
        out = self.end(device)
        for p in away:
            out += self._step(device, p[0], p[1], p[2], cfg)
        return out

    def _add(self, device: str, t: float, lat: float, lon: float, cfg: StopConfig) -> list[Event]:
        """A point of the stop."""
        out: list[Event] = []
        # The running centroid: later points refine where the stop is.
        self.n += 1
        self.lat += (lat - self.lat) / self.n
        self.lon += (lon - self.lon) / self.n
        self.last_t = t
        self.recent = [*(self.recent or [])[-(cfg.window - 1) :], [t, lat, lon]]
        if self.head is not None and len(self.head) < 2 * cfg.window:
            self.head.append([t, lat, lon])
        before = self._moved_next_door(cfg)
        if before is not None:
            out += self._split(device, before)
        if not self.started and self.last_t - self.first_t >= cfg.min_stay_s:
            self.started = True
            sid = self.stop_id(device)
            out.append(
                make_event(
                    device,
                    Kind.VISIT_STARTED,
                    self.first_t,
                    sid,
                    visit_id=sid,
                    source="stop",
                    lat=round(self.lat, 7),
                    lon=round(self.lon, 7),
                )
            )
        return out

    def _moved_next_door(self, cfg: StopConfig) -> tuple[float, float] | None:
        """Where the stop was before its last points, when those sit together elsewhere.

        A young stop whose earlier points were not together (the approach: fixes on the
        street, then in the car park) has not moved: it settles where its last points are,
        keeping its start, and None is returned."""
        rec = self.recent or []
        w = cfg.window
        if len(rec) < w or self.n < 2 * w:
            return None
        lats = [r[1] for r in rec]
        lons = [r[2] for r in rec]
        mlat, mlon = _median(lats), _median(lons)
        k = self.n - len(rec)
        head = self.head or []
        young = k <= len(head)
        if young:  # every earlier point is known: their median
            olat = _median([r[1] for r in head[:k]])
            olon = _median([r[2] for r in head[:k]])
        else:  # a long stop: its running mean has diluted the approach
            olat = (self.lat * self.n - sum(lats)) / k
            olon = (self.lon * self.n - sum(lons)) / k
        # The common case first (one distance): the last points are where the stop was.
        if haversine_m(olat, olon, mlat, mlon) <= cfg.shift_m:
            return None
        together = sum(1 for r in rec if haversine_m(mlat, mlon, r[1], r[2]) <= cfg.shift_m)
        if together < w - 1:  # still moving, or more than one stray point
            return None
        if young:
            settled = sum(1 for r in head[:k] if haversine_m(olat, olon, r[1], r[2]) <= cfg.shift_m)
            if settled < k - 1:  # the earlier points were the approach, not a stay
                self.lat, self.lon = sum(lats) / len(lats), sum(lons) / len(lons)
                self.head = [list(r) for r in rec]
                return None
        return olat, olon

    def _split(self, device: str, before: tuple[float, float]) -> list[Event]:
        """End the stop where it was, begin a new one with its last points."""
        rec = self.recent or []
        self.lat, self.lon = before
        self.n -= len(rec)
        self.last_t = rec[0][0]
        out = self.end(device)
        self._begin(rec[0][0], rec[0][1], rec[0][2])
        self.n = len(rec)
        self.lat = sum(r[1] for r in rec) / len(rec)
        self.lon = sum(r[2] for r in rec) / len(rec)
        self.last_t = rec[-1][0]
        self.recent = rec
        self.head = [list(r) for r in rec]
        return out

    def _begin(self, t: float, lat: float, lon: float) -> None:
        self.lat, self.lon, self.n, self.first_t, self.last_t = lat, lon, 1, t, t
        self.started, self.excursion, self.recent = False, None, [[t, lat, lon]]
        self.head = [[t, lat, lon]]

    def end(self, device: str) -> list[Event]:
        out: list[Event] = []
        if self.started:
            sid = self.stop_id(device)
            out.append(
                make_event(
                    device,
                    Kind.VISIT_ENDED,
                    self.last_t,
                    sid,
                    visit_id=sid,
                    source="stop",
                    lat=round(self.lat, 7),
                    lon=round(self.lon, 7),
                    duration_s=self.last_t - self.first_t,
                )
            )
        self.n, self.started, self.excursion, self.recent, self.head = 0, False, None, None, None
        return out


def _median(values: list[float]) -> float:
    """The median as `statistics.median` gives it (the mean of the middle two of an even
    count), without its overhead: it runs for every point of a stop."""
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def settled_position(
    fixes: list[tuple[float, float, float, float]], head: float = 0.2, tail: float = 0.2
) -> tuple[float, float] | None:
    """Where a stay was: the accuracy-weighted median of its fixes (t, lat, lon, accuracy),
    leaving out the first `head` and the last `tail` of its time (walking in from the car,
    walking out). Robust to a few reflections; an inaccurate fix weighs less (1 / accuracy^2).
    A stay still going on: its latest half (`head` 0.5, `tail` 0)."""
    if not fixes:
        return None
    t0, t1 = fixes[0][0], fixes[-1][0]
    lo, hi = t0 + (t1 - t0) * head, t1 - (t1 - t0) * tail
    inner = [f for f in fixes if lo <= f[0] <= hi]
    chosen = inner if len(inner) >= 3 else fixes
    weights = [1.0 / max(f[3], 5.0) ** 2 for f in chosen]
    return (
        _weighted_median([f[1] for f in chosen], weights),
        _weighted_median([f[2] for f in chosen], weights),
    )


def _weighted_median(values: list[float], weights: list[float]) -> float:
    pairs = sorted(zip(values, weights, strict=True))
    half = sum(weights) / 2
    run = 0.0
    for v, w in pairs:
        run += w
        if run >= half:
            return v
    return pairs[-1][0]
