"""The filter pipeline: which points may move presence, and why the others may not."""

from __future__ import annotations

import math
from dataclasses import dataclass

from geofence.distance import haversine_m
from geofence.types import Fix, Flag


@dataclass(frozen=True, slots=True)
class FilterConfig:
    max_accuracy_m: float = 150.0
    max_speed_mps: float = 70.0  # 252 km/h: faster than any car between two fixes
    future_tolerance_s: float = 120.0
    max_age_s: float = 7 * 86_400.0
    zero_island_deg: float = 1e-4


def flag_for(fix: Fix, prev: Fix | None, cfg: FilterConfig) -> Flag | None:
    """The first reason `fix` must stay out of presence, or None; `prev` is the last good fix.

    Order matters: a mocked point is a spoof whatever else is wrong with it.
    """
    if not (
        math.isfinite(fix.lat)
        and math.isfinite(fix.lon)
        and -90 <= fix.lat <= 90
        and -180 <= fix.lon <= 180
        and math.isfinite(fix.t)
        and math.isfinite(fix.accuracy_m)
        and fix.accuracy_m >= 0
    ):
        return Flag.INVALID
    if fix.mock:
        return Flag.MOCK
    if abs(fix.lat) < cfg.zero_island_deg and abs(fix.lon) < cfg.zero_island_deg:
        return Flag.ZERO_ISLAND
    if fix.received_t is not None:
        if fix.t > fix.received_t + cfg.future_tolerance_s:
            return Flag.FUTURE
        if fix.t < fix.received_t - cfg.max_age_s:
            return Flag.TOO_OLD
    if fix.accuracy_m > cfg.max_accuracy_m:
        return Flag.LOW_ACCURACY
    if prev is not None:
        if fix.t == prev.t or (fix.lat, fix.lon, fix.t) == (prev.lat, prev.lon, prev.t):
            return Flag.DUPLICATE
        dt = fix.t - prev.t
        if dt > 0:
            # Both fixes may be off by their accuracy: only a jump beyond that is impossible.
            moved = haversine_m(prev.lat, prev.lon, fix.lat, fix.lon)
            slack = fix.accuracy_m + prev.accuracy_m
            if moved - slack > cfg.max_speed_mps * dt:
                return Flag.SPEED_JUMP
    return None
