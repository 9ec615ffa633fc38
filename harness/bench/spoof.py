"""`fieldsense eval spoof`: how often the spoof signal cries wolf, and whether it still catches
the cheats it is for.

Three kinds of phones go through the real engine (`geofence.device.process`), no database:
- the real recorded traces in ../shared/bench/gps, at their own rate (1 to 2 s) and thinned to
  one fix a minute: honest phones, every alarm is a false one;
- simulated honest agents driving a Seoul day (simulators/gps.py: log-normal accuracy, urban
  canyon reflections 50 to 300 m off, gaps), some taking a KTX train at 300 km/h for part of
  it, sampled every second and every minute;
- the same agents, some of whom cheat: ten minutes of a mock-location app at a customer
  they never visit (the phone flags it), or a rooted phone's spoofer with no flag, jumping
  5 to 30 km away for 5 to 15 minutes and back.

Each figure is given for today's rule and for the rule it replaced (every mock-location or
speed-jump point an alarm), measured in the same run.
"""

from __future__ import annotations

import json
import math
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geofence.device import DeviceState, EngineConfig, process
from geofence.traces import load_trace, trace_files
from geofence.types import Fix, Flag, Kind
from simulators.gps import Canyons, Receiver, distance_m, offset

SEOUL = (37.5447, 127.0017)
DAY_S = 9 * 3600.0  # 09:00 to 18:00
T0 = 1_767_312_000.0  # a Monday 00:00 UTC (09:00 in Seoul)
OLD_ALARM_FLAGS = frozenset({Flag.MOCK, Flag.SPEED_JUMP})
CONFIG = EngineConfig()


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass
class Tally:
    devices: int = 0
    points: int = 0
    alarms: int = 0  # today's rule, outside any cheat
    alarms_baseline: int = 0  # the old rule, outside any cheat
    episodes: int = 0
    detected: int = 0
    detected_baseline: int = 0


def replay(device: str, fixes: list[Fix]) -> tuple[list[float], list[float]]:
    """The alarm times, by today's rule and by the old one."""
    items: list[tuple[Fix, dict[str, Any]]] = [
        (f, {}) for f in sorted(fixes, key=lambda f: f.order)
    ]
    result = process(device, DeviceState(), items, CONFIG)
    alarms = [e.t for e in result.events if e.kind is Kind.SPOOF_SUSPECTED]
    by_id = {f.client_id: f.t for f in fixes}
    old = [by_id[cid] for cid, flag in result.flags.items() if flag in OLD_ALARM_FLAGS]
    return alarms, old


def thin(fixes: list[Fix], every_s: float) -> list[Fix]:
    out: list[Fix] = []
    for f in sorted(fixes, key=lambda f: f.t):
        if not out or f.t - out[-1].t >= every_s:
            out.append(f)
    return out


def real_traces(root: Path, every_s: float | None) -> Tally:
    tally = Tally()
    for path in trace_files(root):
        fixes = load_trace(path)
        if every_s is not None:
            fixes = thin(fixes, every_s)
        alarms, old = replay(path.stem, fixes)
        tally.devices += 1
        tally.points += len(fixes)
        tally.alarms += len(alarms)
        tally.alarms_baseline += len(old)
    return tally


@dataclass
class Leg:
    t0: float
    t1: float
    a: tuple[float, float]
    b: tuple[float, float]

    def at(self, t: float) -> tuple[float, float]:
        u = 0.0 if self.t1 <= self.t0 else min(1.0, max(0.0, (t - self.t0) / (self.t1 - self.t0)))
        return (self.a[0] + u * (self.b[0] - self.a[0]), self.a[1] + u * (self.b[1] - self.a[1]))


@dataclass
class Day:
    """Where an agent truly is through the day: drives between customers, stays at each."""

    legs: list[Leg] = field(default_factory=list)
    cheats: list[tuple[float, float, str, tuple[float, float]]] = field(default_factory=list)

    def at(self, t: float) -> tuple[float, float]:
        for leg in self.legs:
            if leg.t0 <= t <= leg.t1:
                return leg.at(t)
        return self.legs[-1].b

    @classmethod
    def plan(cls, rng: random.Random, train: bool, cheat: str | None) -> Day:
        day = cls()
        here = offset(*SEOUL, rng.uniform(-8000, 8000), rng.uniform(-8000, 8000))
        t = T0
        end = T0 + DAY_S
        trained = False
        while t < end:
            stay = rng.uniform(600, 2400)
            day.legs.append(Leg(t, t + stay, here, here))
            t += stay
            if train and not trained and t > T0 + 3 * 3600:
                # KTX: 300 km/h in a straight line for 20 minutes (Seoul towards Daejeon).
                there = offset(*here, -100_000 * rng.uniform(0.9, 1.0), rng.uniform(-5000, 5000))
                ride = distance_m(here, there) / 83.0
                trained = True
            else:
                there = offset(*here, rng.uniform(-5000, 5000), rng.uniform(-5000, 5000))
                ride = distance_m(here, there) * 1.4 / rng.uniform(6, 14)  # streets, traffic
            day.legs.append(Leg(t, t + ride, here, there))
            t += ride
            here = there
        if cheat is not None:
            start = T0 + rng.uniform(3600, DAY_S - 3600)
            if cheat == "mock":
                length = 600.0
                far = offset(*day.at(start), rng.uniform(3000, 10000), rng.uniform(-3000, 3000))
            else:
                length = rng.uniform(300, 900)
                d, bearing = rng.uniform(5000, 30000), rng.uniform(0, 2 * math.pi)
                far = offset(*day.at(start), d * math.cos(bearing), d * math.sin(bearing))
            day.cheats.append((start, start + length, cheat, far))
        return day


def phone_day(day: Day, every_s: float, seed: int, device: str) -> list[Fix]:
    rng = random.Random(seed)
    receiver = Receiver(rng, Canyons.around(SEOUL, 10_000, 40, seed))
    # Gaps start per second of the day, not per fix: 1 s sampling is not 60 times gappier.
    receiver.gap_rate = every_s / 3000
    fixes: list[Fix] = []
    t = T0
    n = 0
    while t < T0 + DAY_S:
        cheat = next((c for c in day.cheats if c[0] <= t <= c[1]), None)
        lat, lon = cheat[3] if cheat else day.at(t)
        fix = receiver.fix(t, lat, lon)
        if fix is not None:
            mock = cheat is not None and cheat[2] == "mock"
            jitter = rng.gauss(0, 3) if cheat else 0.0  # a spoofer's own small wobble
            fixes.append(
                Fix(
                    f"{device}-{n}",
                    t,
                    fix["lat"] + jitter / 111_195,
                    fix["lon"],
                    fix["accuracy_m"],
                    mock=mock,
                )
            )
            n += 1
        t += every_s
    return fixes


def simulated(devices: int, every_s: float, seed: int) -> Tally:
    tally = Tally()
    for i in range(devices):
        rng = random.Random(seed * 1_000 + i)
        cheat = ("mock", "teleport")[i % 2] if i % 5 == 4 else None
        day = Day.plan(rng, train=i % 5 == 1, cheat=cheat)
        fixes = phone_day(day, every_s, seed * 1_000 + i, f"sim{i}")
        alarms, old = replay(f"sim{i}", fixes)

        def cheating(t: float, day: Day = day) -> bool:
            return any(c[0] <= t <= c[1] + 120 for c in day.cheats)

        tally.devices += 1
        tally.points += len(fixes)
        tally.alarms += sum(1 for t in alarms if not cheating(t))
        tally.alarms_baseline += sum(1 for t in old if not cheating(t))
        for c in day.cheats:
            tally.episodes += 1
            tally.detected += any(c[0] <= t <= c[1] + 120 for t in alarms)
            tally.detected_baseline += any(c[0] <= t <= c[1] + 120 for t in old)
    return tally


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 4) if b else None


def run(json_path: Path | None, devices: int, seed: int, gps_root: Path) -> dict[str, Any]:
    started = time.monotonic()
    rows: dict[str, Tally] = {}
    if trace_files(gps_root):
        say(f"[1/3] real traces in {gps_root}, at their own rate and one fix a minute")
        rows["real, own rate"] = real_traces(gps_root, None)
        rows["real, 1 min"] = real_traces(gps_root, 60.0)
    else:
        say(f"[1/3] no real traces in {gps_root}: skipped")
    for k, every in enumerate((1.0, 60.0), start=2):
        say(f"[{k}/3] {devices} simulated phones, a 9-hour day, one fix every {every:g} s")
        rows[f"sim, {every:g} s"] = simulated(devices, every, seed)
    header = f"{'phones':<16}{'devices':>8}{'points':>10}{'alarms':>8}{'was':>8}{'caught':>10}{'was':>10}"
    say(header)
    for name, r in rows.items():
        caught = f"{r.detected}/{r.episodes}" if r.episodes else "-"
        was = f"{r.detected_baseline}/{r.episodes}" if r.episodes else "-"
        say(
            f"{name:<16}{r.devices:>8}{r.points:>10}{r.alarms:>8}{r.alarms_baseline:>8}"
            f"{caught:>10}{was:>10}"
        )
    say("alarms: false ones (honest phones, or outside a cheat); was: the old rule's")

    def per_day(r: Tally, n: int) -> float:
        return round(n / r.devices, 3) if r.devices else 0.0

    real = rows.get("real, own rate", Tally())
    s1, s60 = rows["sim, 1 s"], rows["sim, 60 s"]
    summary = {
        "real_false_alarms": real.alarms,
        "real_false_alarms_baseline": real.alarms_baseline,
        "sim_1s_false_alarms_per_device_day": per_day(s1, s1.alarms),
        "sim_1s_false_alarms_per_device_day_baseline": per_day(s1, s1.alarms_baseline),
        "sim_60s_false_alarms_per_device_day": per_day(s60, s60.alarms),
        "sim_60s_false_alarms_per_device_day_baseline": per_day(s60, s60.alarms_baseline),
        "sim_1s_cheats_caught": _ratio(s1.detected, s1.episodes),
        "sim_60s_cheats_caught": _ratio(s60.detected, s60.episodes),
    }
    report = {
        "eval": "spoof",
        "summary": summary,
        "details": {name: vars(r) for name, r in rows.items()},
        "seed": seed,
        "seconds": round(time.monotonic() - started, 1),
    }
    if json_path is not None:
        json_path.write_text(json.dumps(report, indent=2))
        say(f"wrote {json_path}")
    return report
