"""Spoof signals: one per episode, on evidence an ordinary phone does not produce."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from geofence.device import DeviceState, EngineConfig, process
from geofence.traces import load_trace, trace_files
from geofence.types import Event, Fix, Flag, Kind

BENCH = Path(__file__).resolve().parents[2].parent / "shared" / "bench" / "gps"
TRACES = trace_files(BENCH)
LAT, LON = 37.55, 127.0
M = 111_195.0


def at(north_m: float, east_m: float = 0.0) -> tuple[float, float]:
    return LAT + north_m / M, LON + east_m / (M * math.cos(math.radians(LAT)))


def fix(i: int, t: float, north_m: float, east_m: float = 0.0, acc: float = 8.0, **kw: bool) -> Fix:
    lat, lon = at(north_m, east_m)
    return Fix(f"p{i}", t, lat, lon, acc, **kw)


def run(fixes: list[Fix]) -> tuple[list[Event], dict[str, Flag]]:
    items = [(f, {}) for f in sorted(fixes, key=lambda f: f.order)]
    result = process("phone", DeviceState(), items, EngineConfig())  # type: ignore[arg-type]
    return [e for e in result.events if e.kind is Kind.SPOOF_SUSPECTED], result.flags


def drive(n: int, every_s: float, speed_mps: float = 12.0) -> list[Fix]:
    return [fix(i, 1_000 + i * every_s, i * every_s * speed_mps) for i in range(n)]


@pytest.mark.skipif(not TRACES, reason="../shared/bench/gps is not beside the project")
@pytest.mark.parametrize("path", TRACES, ids=[p.name for p in TRACES])
def test_real_traces_raise_no_alarm(path: Path) -> None:
    """Real phones at their own rate (1 to 2 s): whatever they do, none is a spoofer."""
    alarms, _ = run(load_trace(path))
    assert alarms == []


def test_multipath_at_one_fix_a_second_is_flagged_not_alarmed() -> None:
    """Reflections 50 to 300 m off, fixes a second apart: impossible speeds by the hundred."""
    rng = random.Random(4)
    fixes = drive(3_600, 1.0)
    for k in rng.sample(range(10, 3_590), 300):
        f = fixes[k]
        d, b = rng.uniform(50, 300), rng.uniform(0, 2 * math.pi)
        lat, lon = f.lat + d * math.cos(b) / M, f.lon + d * math.sin(b) / M
        fixes[k] = Fix(f.client_id, f.t, lat, lon, rng.uniform(10, 20))
    alarms, flags = run(fixes)
    assert sum(1 for v in flags.values() if v is Flag.SPEED_JUMP) > 50  # the old alarms
    assert alarms == []


def test_a_mock_location_app_is_one_signal_per_episode() -> None:
    honest = drive(60, 60.0)
    mocked = [fix(100 + i, 5_000 + i * 10, 9_000, mock=True) for i in range(30)]
    later = [fix(200 + i, 20_000 + i * 10, 9_000, mock=True) for i in range(5)]  # 4 h later
    alarms, flags = run(honest + mocked + later)
    assert [e.data["reason"] for e in alarms] == ["mock_location", "mock_location"]
    assert [e.t for e in alarms] == [5_000, 20_000]
    assert sum(1 for v in flags.values() if v is Flag.MOCK) == 35


@pytest.mark.parametrize("returns", [False, True])
def test_a_teleport_carries_its_evidence(returns: bool) -> None:
    before = [fix(i, 1_000 + i * 5, i * 50) for i in range(20)]  # 10 m/s north
    there = [fix(100 + i, 1_100 + i * 5, 25_000, 25_000) for i in range(2 if returns else 10)]
    back = [fix(200 + i, 1_110 + i * 5 + (0 if returns else 1e4), 1_000 + i * 50) for i in range(5)]
    alarms, _ = run(before + there + back)
    assert len(alarms) == 1
    evidence = alarms[0].data["evidence"]
    assert alarms[0].data["reason"] == "teleport"
    assert evidence["distance_m"] > 30_000 and evidence["fixes_there"] >= 2
    assert evidence["speed_mps"] > 300


def test_one_wild_fix_is_a_glitch() -> None:
    fixes = drive(30, 5.0)
    fixes[10] = fix(10, fixes[10].t, 40_000, 40_000)
    alarms, flags = run(fixes)
    assert alarms == [] and flags["p10"] is Flag.SPEED_JUMP


def test_a_cached_last_known_position_is_no_teleport() -> None:
    """A phone losing its fix hands out where it was a while ago, for many fixes."""
    out = [fix(i, 1_000 + i * 2, i * 30) for i in range(100)]  # 3 km north in 200 s
    cached = [fix(100 + i, 1_200 + i * 2, 0.0) for i in range(20)]  # back at the start
    alarms, _ = run(out + cached)
    assert alarms == []


def test_a_train_and_a_flight_are_no_spoof() -> None:
    ktx = [fix(i, 1_000 + i * 60, i * 60 * 83.0) for i in range(30)]  # 300 km/h
    landed = [
        fix(100 + i, 1_000 + 29 * 60 + 3_600 + i * 60, 29 * 60 * 83.0 + 450_000) for i in range(5)
    ]
    alarms, _ = run(ktx + landed)
    assert alarms == []
