"""Rate limits: a generic cell rate algorithm (GCRA) per key, in the process's memory.

Each key has a "theoretical arrival time" (TAT); a request is allowed when the TAT, moved on by
one emission interval, is no further ahead of now than the burst allows. It is a token bucket
kept in one float per key. The limits hold per API process: with N processes a client can get
up to N times the limit (docs/security.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    per_minute: float
    burst: int

    @property
    def interval_s(self) -> float:
        return 60.0 / self.per_minute

    @property
    def window_s(self) -> float:
        return self.interval_s * self.burst


class RateLimiter:
    """Counts hits per key; `hit` says how long to wait when one is refused."""

    MAX_KEYS = 200_000

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._tat: dict[Hashable, float] = {}
        self._clock = clock

    def retry_after(self, key: Hashable, limit: Limit) -> float:
        """Seconds until a hit on `key` would be allowed (0: now), without counting one."""
        now = self._clock()
        tat = max(self._tat.get(key, now), now)
        return max(0.0, tat + limit.interval_s - now - limit.window_s)

    def hit(self, key: Hashable, limit: Limit) -> float:
        """Count a hit: 0 if allowed, else the seconds to wait (the hit is then not counted)."""
        wait = self.retry_after(key, limit)
        if wait > 0:
            return wait
        now = self._clock()
        self._tat[key] = max(self._tat.get(key, now), now) + limit.interval_s
        if len(self._tat) > self.MAX_KEYS:
            self._sweep(now)
        return 0.0

    def forget(self, key: Hashable) -> None:
        self._tat.pop(key, None)

    def _sweep(self, now: float) -> None:
        # Keys whose bucket has refilled carry no state worth keeping.
        for k in [k for k, t in self._tat.items() if t <= now]:
            del self._tat[k]
