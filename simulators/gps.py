"""What a phone's GPS reports, given where it truly is: accuracy, noise, urban canyons.

- Reported accuracy: log-normal, median 8 m, clipped to 3-60 m; the true error is Gaussian
  with about that radius.
- Urban canyons: zones around tall buildings (seeded circles of 250-400 m) where 15 % of
  fixes are reflections 50-300 m off; half of them honestly report a large accuracy, the
  other half claim 10-20 m (the case that fools naive geofencing).
- Gaps: the receiver drops out for 2-10 minutes now and then.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

M_PER_DEG = 111_195.0


def offset(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    return (
        lat + north_m / M_PER_DEG,
        lon + east_m / (M_PER_DEG * math.cos(math.radians(lat))),
    )


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    dlat = (b[0] - a[0]) * M_PER_DEG
    dlon = (b[1] - a[1]) * M_PER_DEG * math.cos(math.radians((a[0] + b[0]) / 2))
    return math.hypot(dlat, dlon)


@dataclass
class Canyons:
    """Tall-building zones over an area, from a seed."""

    zones: list[tuple[float, float, float]] = field(default_factory=list)  # lat, lon, radius

    @classmethod
    def around(cls, center: tuple[float, float], spread_m: float, n: int, seed: int) -> Canyons:
        rng = random.Random(seed)
        zones = []
        for _ in range(n):
            lat, lon = offset(
                center[0],
                center[1],
                rng.uniform(-spread_m, spread_m),
                rng.uniform(-spread_m, spread_m),
            )
            zones.append((lat, lon, rng.uniform(250, 400)))
        return cls(zones)

    def inside(self, lat: float, lon: float) -> bool:
        return any(distance_m((lat, lon), (z[0], z[1])) <= z[2] for z in self.zones)


@dataclass
class Receiver:
    """One phone's GPS: turns true positions into reported fixes."""

    rng: random.Random
    canyons: Canyons
    canyon_rate: float = 0.15
    gap_rate: float = 0.004  # per fix: the chance a gap starts
    _gap_until: float = 0.0
    outliers: int = 0

    def fix(self, t: float, lat: float, lon: float) -> dict[str, float] | None:
        """The reported fix at time t (epoch s), or None while in a gap."""
        if t < self._gap_until:
            return None
        if self.rng.random() < self.gap_rate:
            self._gap_until = t + self.rng.uniform(120, 600)
            return None
        acc = min(60.0, max(3.0, self.rng.lognormvariate(math.log(8.0), 0.5)))
        sd = acc / 1.5
        north, east = self.rng.gauss(0, sd), self.rng.gauss(0, sd)
        if self.canyons.inside(lat, lon) and self.rng.random() < self.canyon_rate:
            self.outliers += 1
            d = self.rng.uniform(50, 300)
            bearing = self.rng.uniform(0, 2 * math.pi)
            north, east = d * math.cos(bearing), d * math.sin(bearing)
            acc = (
                d * self.rng.uniform(0.6, 1.2)
                if self.rng.random() < 0.5
                else self.rng.uniform(10, 20)
            )
        rlat, rlon = offset(lat, lon, north, east)
        return {"lat": rlat, "lon": rlon, "accuracy_m": round(acc, 1)}
