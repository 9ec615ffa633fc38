"""Travel times between places, behind one interface.

The default provider estimates from straight-line (haversine) distance times a detour factor,
at a speed that depends on the mode and the hour of the day. A road-network provider (OSRM,
Valhalla, a commercial matrix API) implements the same ``TravelTimes`` protocol and the
planner does not change.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import numpy as np

EARTH_RADIUS_M = 6_371_008.8


class TravelMode(enum.StrEnum):
    WALK = "walk"
    CAR = "car"
    TRANSIT = "transit"


@dataclass(frozen=True, slots=True)
class GeoPoint:
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class TravelMatrix:
    """Seconds and metres from every point to every point, as integers, and where they came
    from: ``roads``, ``straight_line`` or ``mixed`` (``estimated`` lists the points the road
    network does not reach, whose trips the straight line answered; ``note`` says why)."""

    seconds: tuple[tuple[int, ...], ...]
    metres: tuple[tuple[int, ...], ...]
    source: str = "straight_line"
    estimated: tuple[int, ...] = ()
    note: str | None = None


class TravelTimes(Protocol):
    def matrix(
        self, points: Sequence[GeoPoint], mode: TravelMode, start: datetime, end: datetime
    ) -> TravelMatrix:
        """Travel between ``points`` for a trip taken somewhere in [start, end]."""
        ...

    def legs(
        self,
        origins: Sequence[GeoPoint],
        destinations: Sequence[GeoPoint],
        mode: TravelMode,
        start: datetime,
        end: datetime,
    ) -> list[int]:
        """Seconds from each origin to the destination at the same index."""
        ...


def haversine_m(a: GeoPoint, b: GeoPoint) -> float:
    (lat1, lon1), (lat2, lon2) = _radians([a]), _radians([b])
    return float(_haversine(lat1, lon1, lat2, lon2)[0])


@dataclass(frozen=True, slots=True)
class ModeProfile:
    speed_kmh: float
    detour: float  # road distance / straight-line distance
    overhead_s: int = 0  # per trip: parking, waiting for the bus
    # Speed multiplier per hour of the local day (24 values); 1.0 when absent.
    by_hour: tuple[float, ...] = ()


def _rush_hours(peak: float) -> tuple[float, ...]:
    hours = [1.0] * 24
    for h in (7, 8, 17, 18):
        hours[h] = peak
    for h in (22, 23, 0, 1, 2, 3, 4, 5):
        hours[h] = 1.15
    return tuple(hours)


DEFAULT_PROFILES: dict[TravelMode, ModeProfile] = {
    TravelMode.WALK: ModeProfile(speed_kmh=4.8, detour=1.25),
    TravelMode.CAR: ModeProfile(
        speed_kmh=32, detour=1.35, overhead_s=120, by_hour=_rush_hours(0.65)
    ),
    TravelMode.TRANSIT: ModeProfile(
        speed_kmh=20, detour=1.3, overhead_s=300, by_hour=_rush_hours(0.85)
    ),
}


@dataclass(frozen=True, slots=True)
class HaversineTravel:
    """Straight-line distance x detour, at the mode's speed averaged over the trip window.

    One matrix serves a whole plan, so the hour-of-day factor is the mean over the hours the
    window covers (the agent's shift): a day spent in rush hour plans slower than a day at
    noon. Trips shorter than 50 m are walked whatever the mode (same building, next door).
    """

    profiles: dict[TravelMode, ModeProfile] = field(default_factory=lambda: DEFAULT_PROFILES)

    def speed_factor(self, mode: TravelMode, start: datetime, end: datetime) -> float:
        by_hour = self.profiles[mode].by_hour
        if not by_hour or end <= start:
            return by_hour[start.hour] if by_hour else 1.0
        factors = []
        t = start.replace(minute=0, second=0, microsecond=0)
        while t < end:
            factors.append(by_hour[t.hour])
            t += timedelta(hours=1)
        return sum(factors) / len(factors)

    def _trips(
        self, straight: np.ndarray, mode: TravelMode, start: datetime, end: datetime
    ) -> tuple[np.ndarray, np.ndarray]:
        """Seconds and metres for straight-line distances (any shape of array)."""
        profile = self.profiles[mode]
        walk = self.profiles.get(TravelMode.WALK, DEFAULT_PROFILES[TravelMode.WALK])
        speed = profile.speed_kmh * self.speed_factor(mode, start, end) / 3.6  # m/s
        near = straight < 50
        metres = np.where(near, straight * walk.detour, straight * profile.detour)
        seconds = np.where(
            near,
            np.ceil(metres / (walk.speed_kmh / 3.6)),
            np.ceil(metres / speed) + profile.overhead_s,
        )
        same = straight == 0
        seconds[same] = 0
        metres[same] = 0
        return seconds, metres

    def matrix(
        self, points: Sequence[GeoPoint], mode: TravelMode, start: datetime, end: datetime
    ) -> TravelMatrix:
        lat, lon = _radians(points)
        straight = _haversine(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
        seconds, metres = self._trips(straight, mode, start, end)
        return TravelMatrix(
            seconds=tuple(map(tuple, seconds.astype(np.int64).tolist())),
            metres=tuple(map(tuple, np.rint(metres).astype(np.int64).tolist())),
        )

    def legs(
        self,
        origins: Sequence[GeoPoint],
        destinations: Sequence[GeoPoint],
        mode: TravelMode,
        start: datetime,
        end: datetime,
    ) -> list[int]:
        (lat1, lon1), (lat2, lon2) = _radians(origins), _radians(destinations)
        seconds, _ = self._trips(_haversine(lat1, lon1, lat2, lon2), mode, start, end)
        result: list[int] = seconds.astype(np.int64).tolist()
        return result

    def seconds_from(
        self,
        origins: Sequence[GeoPoint],
        lat: np.ndarray,
        lon: np.ndarray,
        mode: TravelMode,
        start: datetime,
        end: datetime,
    ) -> np.ndarray:
        """Seconds from each origin to many places (degrees in arrays), one row per origin:
        the same figures as ``legs`` (and the same back: trips depend on the distance only),
        without building points."""
        lat1, lon1 = _radians(origins)
        lat2, lon2 = np.radians(lat), np.radians(lon)
        straight = _haversine(lat1[:, None], lon1[:, None], lat2[None, :], lon2[None, :])
        seconds, _ = self._trips(straight, mode, start, end)
        return seconds.astype(np.int64)

    def reach_m(self, mode: TravelMode, seconds: float) -> float:
        """The farthest straight-line distance a trip of ``seconds`` can cover, at any hour."""
        profile = self.profiles[mode]
        fastest = max(profile.by_hour, default=1.0)
        return (
            max(0.0, seconds - profile.overhead_s)
            * profile.speed_kmh
            * fastest
            / 3.6
            / (profile.detour)
            + 50.0
        )


def _radians(points: Sequence[GeoPoint]) -> tuple[np.ndarray, np.ndarray]:
    lat = np.radians(np.array([p.lat for p in points], dtype=np.float64))
    lon = np.radians(np.array([p.lon for p in points], dtype=np.float64))
    return lat, lon


def _haversine(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    """Great-circle metres, element-wise with numpy broadcasting (radians in)."""
    h = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(h)))
