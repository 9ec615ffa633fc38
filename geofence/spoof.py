"""Spoof signals: one per suspected episode per device, on evidence an ordinary phone does not
produce.

A point the filters refuse (a multipath jump, a fix too fast for the last one) is a flagged
point, kept out of presence, and nothing more: phones sampling every second while driving
through a city make such jumps by the hundred a day, tens to a few hundred metres beyond their
reported accuracy. An alarm a manager learns to ignore is no alarm. The evidence that raises one:

- **mock location**: the phone's own flag that an app supplied the position;
- **teleport**: two or more fixes that agree with each other (so not a lone glitch) at a
  place farther from the last trusted position than any multipath error (`min_jump_m` beyond
  both accuracies), reached at a speed no vehicle on the ground or in the air has
  (`impossible_mps`): whether the device then stays there (the jump is accepted as the new
  position) or returns (teleport and return). Unless the place is one the device has already
  been at (`trail`): a phone that loses its fix hands out its cached last-known location, a
  place it was minutes or hours ago, at once and for many fixes (seen in the real traces: 2 km
  back to where the trace began, the same coordinates to the last digit for 40 s).

A device's alarms are grouped into episodes: evidence within `episode_gap_s` of the last
evidence belongs to the same episode and raises nothing new. The signal carries its evidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from geofence.distance import haversine_m
from geofence.types import Fix

M_PER_DEG = 111_195.0


@dataclass(frozen=True, slots=True)
class SpoofConfig:
    # Faster than an airliner's ground speed (about 250 m/s): a flight between two of an
    # agent's cities, the phone in flight mode, is not a spoof.
    impossible_mps: float = 300.0
    # Beyond both fixes' accuracies: urban-canyon reflections and cell-tower fallbacks stay
    # well inside it.
    min_jump_m: float = 2_000.0
    # Fixes at the far place that agree with each other: one wild fix is a glitch.
    min_far_fixes: int = 2
    episode_gap_s: float = 1_800.0
    # The trail of places the device has been: one point each time it has moved this far from
    # the last, the latest `trail_points` kept; a far fix within `trail_match_m` (beyond its
    # accuracy) of one is a cached position, not a teleport.
    trail_step_m: float = 500.0
    trail_points: int = 64
    trail_match_m: float = 200.0


Trail = list[tuple[float, float]]


def remember(trail: Trail, fix: Fix, cfg: SpoofConfig) -> Trail:
    """The trail with `fix` added when it is a step away from the last point (a new list).

    Every good fix asks, so the test is a box (a step north-south or east-west), not a
    great-circle distance: a third of the cost, and a trail needs no more. Points are kept to
    5 decimals (a metre), which is what the device state stores."""
    if trail:
        lat, lon = trail[-1]
        step_deg = cfg.trail_step_m / M_PER_DEG
        if (
            abs(fix.lat - lat) < step_deg
            and abs(fix.lon - lon) * math.cos(math.radians(lat)) < step_deg
        ):
            return trail
    return [*trail[-(cfg.trail_points - 1) :], (round(fix.lat, 5), round(fix.lon, 5))]


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why a device is suspected, attached to its signal."""

    reason: str  # "mock_location" | "teleport"
    detail: dict[str, Any]


def teleport(anchor: Fix, far: list[Fix], trail: Trail, cfg: SpoofConfig) -> Evidence | None:
    """Whether the run `far` of fixes (each too fast for `anchor`, the last trusted fix, and
    consistent with each other) is a teleport, with its evidence."""
    if len(far) < cfg.min_far_fixes:
        return None
    first = far[0]
    reach = first.accuracy_m + cfg.trail_match_m
    if any(haversine_m(lat, lon, first.lat, first.lon) <= reach for lat, lon in trail):
        return None  # back where it has been: a cached last-known position
    dt = first.t - anchor.t
    moved = haversine_m(anchor.lat, anchor.lon, first.lat, first.lon)
    beyond = moved - anchor.accuracy_m - first.accuracy_m
    if beyond < cfg.min_jump_m:
        return None
    if dt > 0 and beyond / dt < cfg.impossible_mps:
        return None
    return Evidence(
        "teleport",
        {
            "from": {"lat": anchor.lat, "lon": anchor.lon, "t": anchor.t},
            "to": {"lat": first.lat, "lon": first.lon, "t": first.t},
            "distance_m": round(moved),
            "seconds": round(dt, 3),
            "speed_mps": round(beyond / dt) if dt > 0 else None,
            "fixes_there": len(far),
        },
    )


def mock_location(fix: Fix) -> Evidence:
    return Evidence("mock_location", {"client_id": fix.client_id})


def new_episode(last_evidence_t: float | None, t: float, cfg: SpoofConfig) -> bool:
    """Whether evidence at `t` starts an episode (and so raises a signal)."""
    return last_evidence_t is None or abs(t - last_evidence_t) > cfg.episode_gap_s
