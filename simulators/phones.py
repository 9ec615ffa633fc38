"""Phones in a district fieldsense has never seen: the phone scenarios of `fieldsense eval visits`.

Each scenario is a fresh agent's day (three agents each) in its own district of a grid town
(streets every 150 m, a building in each block, one to three customers on different floors
and wings of it, 15-40 m apart), uploaded through the API the way a phone app uploads: a
batch every five minutes, no plans, customers imported as they are (every other one with a
50 m fence, the rest without). What the phone reports is modelled from what phones do, with
nothing taken from the engine:

- **Driving** along the streets at 8-14 m/s, waiting 20-90 s at a red light at some
  intersections and crawling in slow traffic now and then; parking on the street and walking
  (1.3 m/s) to the building's entrance and back.
- **Outdoors** a fix's error is Gaussian, about its reported accuracy (3-10 m).
- **Indoors** the reported accuracy is the scenario's (10-30 m in most buildings, 20-60 m
  with multipath), the error about that size, and with multipath the fix now and then jumps
  40-150 m away for half a minute to two minutes while still claiming 20-40 m.
- **Sampling**: a fix every 5-30 s (the fused provider saving battery), or every second
  (a navigation app in the car, `driving_1hz`).
- **Same-time fixes**: with `same_timestamp`, a quarter of the fixes come with a second one
  at the same time from the network provider (30-120 m accuracy, that far off), in either
  order.

The truth is each stay: the customer, from entering the building to leaving it. Drive-bys
are plain 50 m fences in the middle of blocks the agents drive along without stopping; an
entry into one is a pass-through entry.
"""

from __future__ import annotations

import json
import math
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from simulators.api import pages
from simulators.gps import offset
from simulators.score import figures, score
from simulators.traces import admin_and_team, new_agent, post

BLOCK_M = 150.0
FENCE_M = 50.0
UPLOAD_EVERY_S = 300.0


@dataclass(frozen=True, slots=True)
class Phone:
    """How a scenario's phones behave."""

    indoor_acc: tuple[float, float] = (10.0, 30.0)
    multipath: float = 0.0  # chance a minute indoors starts a jump
    every_s: tuple[float, float] = (5.0, 30.0)  # sampling interval
    drive_every_s: float | None = None  # sampling while driving, if not the same
    same_time: float = 0.0  # share of fixes with a second one at the same time
    per_building: tuple[int, int] = (1, 3)  # customers in a building


SCENARIOS: dict[str, Phone] = {
    "neighbours_no_plans": Phone(per_building=(2, 3)),
    "indoor_multipath": Phone(indoor_acc=(20.0, 60.0), multipath=0.08, per_building=(1, 2)),
    "driving_1hz": Phone(every_s=(1.0, 1.0), drive_every_s=1.0, per_building=(1, 1)),
    "same_timestamp": Phone(same_time=0.25, per_building=(1, 2)),
}


@dataclass
class Customer:
    x: float
    y: float
    fenced: bool
    id: str = ""


@dataclass
class Building:
    x: float
    y: float  # its centre; the entrance is on the street to the south
    customers: list[Customer]


class Day:
    """One agent's day: where the phone truly is, sampled as the phone samples it."""

    def __init__(self, phone: Phone, rng: random.Random, t0: float) -> None:
        self.phone, self.rng = phone, rng
        self.t = t0
        self.x, self.y = 0.0, 0.0
        self.fixes: list[tuple[float, float, float, float]] = []  # t, x, y, accuracy
        self.jump: tuple[float, float, float] | None = None  # until, dx, dy
        self.next_fix = t0

    def _interval(self, driving: bool) -> float:
        if driving and self.phone.drive_every_s is not None:
            return self.phone.drive_every_s
        lo, hi = self.phone.every_s
        return self.rng.uniform(lo, hi)

    def _sample(self, x: float, y: float, indoors: bool, driving: bool) -> None:
        while self.next_fix <= self.t:
            t = self.next_fix
            if indoors:
                acc = self.rng.uniform(*self.phone.indoor_acc)
                if self.jump is not None and t >= self.jump[0]:
                    self.jump = None
                if self.jump is None and self.rng.random() < self.phone.multipath / 60 * (
                    self._interval(False)
                ):
                    angle = self.rng.uniform(0, 2 * math.pi)
                    d = self.rng.uniform(40, 150)
                    until = t + self.rng.uniform(30, 120)
                    self.jump = (until, d * math.cos(angle), d * math.sin(angle))
                dx, dy = (self.jump[1], self.jump[2]) if self.jump else (0.0, 0.0)
                if self.jump:
                    acc = self.rng.uniform(20, 40)
                sigma = acc / 1.5
            else:
                acc = self.rng.uniform(3, 10)
                dx = dy = 0.0
                sigma = acc / 1.5
            self.fixes.append(
                (t, x + dx + self.rng.gauss(0, sigma), y + dy + self.rng.gauss(0, sigma), acc)
            )
            if self.rng.random() < self.phone.same_time:
                net = self.rng.uniform(30, 120)
                angle = self.rng.uniform(0, 2 * math.pi)
                d = self.rng.uniform(0.3, 1.0) * net
                other = (t, x + d * math.cos(angle), y + d * math.sin(angle), net)
                if self.rng.random() < 0.5:
                    self.fixes.append(other)
                else:
                    self.fixes.insert(len(self.fixes) - 1, other)
            self.next_fix = t + self._interval(driving)

    def go(self, x: float, y: float, speed: float, *, indoors: bool = False) -> None:
        """Move in a straight line to (x, y) at `speed`, sampling on the way."""
        d = math.hypot(x - self.x, y - self.y)
        steps = max(1, int(d / (speed * 0.5)))
        x0, y0 = self.x, self.y
        for k in range(1, steps + 1):
            self.t += d / speed / steps
            self.x, self.y = x0 + (x - x0) * k / steps, y0 + (y - y0) * k / steps
            self._sample(self.x, self.y, indoors, driving=speed > 3)

    def wait(self, seconds: float, *, indoors: bool, driving: bool = False) -> None:
        end = self.t + seconds
        while self.t < end:
            self.t = min(end, self.t + 1.0)
            self._sample(self.x, self.y, indoors, driving)

    def drive(self, x: float, y: float) -> list[tuple[float, float]]:
        """Along the streets to (x, y) (on an east-west street); the blocks driven along."""
        rng = self.rng
        column = round(x / BLOCK_M) * BLOCK_M
        legs = [(column, self.y), (column, y), (x, y)]
        passed: list[tuple[float, float]] = []
        for lx, ly in legs:
            while abs(lx - self.x) > 1 or abs(ly - self.y) > 1:
                # One block at a time, to the next intersection (or the end of the leg).
                if abs(lx - self.x) > 1:
                    step = math.copysign(min(BLOCK_M, abs(lx - self.x)), lx - self.x)
                    nx, ny = self.x + step, self.y
                else:
                    step = math.copysign(min(BLOCK_M, abs(ly - self.y)), ly - self.y)
                    nx, ny = self.x, self.y + step
                if abs(step) >= BLOCK_M - 1:
                    passed.append(((self.x + nx) / 2, (self.y + ny) / 2))
                speed = rng.uniform(2.0, 4.0) if rng.random() < 0.1 else rng.uniform(8.0, 14.0)
                self.go(nx, ny, speed)
                if rng.random() < 0.3:  # a red light
                    self.wait(rng.uniform(20, 90), indoors=False, driving=True)
        return passed


def town(phone: Phone, rng: random.Random, buildings: int) -> list[Building]:
    out = []
    cells = rng.sample([(i, j) for i in range(-4, 5) for j in range(-4, 5)], buildings)
    n = 0
    for i, j in cells:
        cx, cy = i * BLOCK_M + BLOCK_M / 2, j * BLOCK_M + BLOCK_M / 2
        customers = []
        k = rng.randint(*phone.per_building)
        angle = rng.uniform(0, math.pi)
        pos = 0.0
        for _ in range(k):
            customers.append(
                Customer(cx + pos * math.cos(angle), cy + pos * math.sin(angle), n % 2 == 0)
            )
            n += 1
            pos += rng.uniform(15, 40)
        out.append(Building(cx, cy, customers))
    return out


def agent_day(
    phone: Phone, rng: random.Random, buildings: list[Building], stays: int, t0: float
) -> tuple[Day, list[tuple[Customer, float, float]], list[tuple[float, float]]]:
    """The day's fixes, its true stays (customer, in, out) and the blocks driven along."""
    day = Day(phone, rng, t0)
    truth: list[tuple[Customer, float, float]] = []
    passed: list[tuple[float, float]] = []
    for b in rng.sample(buildings, stays):
        target = rng.choice(b.customers)
        street_y = b.y - BLOCK_M / 2
        park_x = b.x + rng.uniform(-40, 40)
        passed += day.drive(park_x, street_y)
        day.wait(rng.uniform(30, 120), indoors=False)  # parking
        day.go(b.x, street_y + 8, 1.3)  # to the entrance
        arrived = day.t
        day.go(target.x, target.y, 1.0, indoors=True)
        day.wait(rng.uniform(6, 40) * 60, indoors=True)
        day.go(b.x, street_y + 8, 1.0, indoors=True)
        departed = day.t
        truth.append((target, arrived, departed))
        day.go(park_x, street_y, 1.3)
    return day, truth, passed


async def run_scenario(
    http: httpx.AsyncClient,
    tenant: str,
    admin: dict[str, str],
    unit: str,
    name: str,
    index: int,
    seed: int,
    say: Any,
    agents: int = 3,
    stays: int = 8,
) -> dict[str, Any]:
    """One scenario's agents, their customers and fences, their uploads; truth and result."""
    phone = SCENARIOS[name]
    rng = random.Random(f"{seed}/{name}")
    origin = offset(37.45, 127.10, 0.0, 3000.0 * index)  # a district of its own
    buildings = town(phone, rng, stays * 2)
    await _customers(http, admin, unit, name, origin, buildings)
    now = datetime.now(UTC).timestamp()
    truth: list[dict[str, Any]] = []
    detected: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    drive_fences: set[str] = set()
    for a in range(agents):
        user, h = await new_agent(http, tenant, admin, unit, f"{name} {a}")
        day, stays_of, passed = agent_day(phone, rng, buildings, stays, now - 6 * 3600)
        shift = (now - 1800) - day.t  # the day ends half an hour ago
        stops = [(c.x, c.y) for c, _, _ in stays_of]
        placed = await _drive_by_fences(http, admin, f"{name} drive-by {a}", origin, stops, passed)
        drive_fences |= placed
        device = await post(
            http,
            "/devices",
            {"name": f"{name} {a}", "identifier": f"phones-{uuid.uuid4()}", "user_id": user["id"]},
            admin,
        )
        points = []
        for t, x, y, acc in day.fixes:
            lat, lon = offset(*origin, y, x)
            points.append(
                {"client_id": str(uuid.UUID(int=rng.getrandbits(128))),
                 "time": datetime.fromtimestamp(t + shift, UTC).isoformat(),
                 "lat": lat, "lon": lon, "accuracy_m": round(acc, 1)}
            )  # fmt: skip
        await _upload(http, h, device["id"], [f[0] for f in day.fixes], points)
        for c, arrived, departed in stays_of:
            truth.append(
                {
                    "agent_id": user["id"],
                    "customer_id": c.id,
                    "arrived_at": datetime.fromtimestamp(arrived + shift, UTC).isoformat(),
                    "departed_at": datetime.fromtimestamp(departed + shift, UTC).isoformat(),
                }
            )
        visits = await pages(http, "/visits", {"agent_id": user["id"]}, admin)
        detected += [v for v in visits if v["customer_id"] is not None]
        for kind in ("entered", "exited"):
            events += await pages(http, "/events", {"device_id": device["id"], "kind": kind}, admin)
        say(
            f"[{name}] agent {a + 1}/{agents}: {len(day.fixes)} fixes, {len(stays_of)} stays, "
            f"{len(placed)} drive-by fences"
        )
    entries = sum(1 for e in events if e["kind"] == "entered" and e["fence_id"] in drive_fences)
    return {
        "truth": truth,
        "detected": detected,
        "events": events,
        "pass_through_entries": entries,
        "drive_by_fences": len(drive_fences),
    }


async def _customers(
    http: httpx.AsyncClient,
    admin: dict[str, str],
    unit: str,
    name: str,
    origin: tuple[float, float],
    buildings: list[Building],
) -> None:
    """The town's customers created (their ids set on them), with a fence where they have
    one."""
    for b in buildings:
        for c in b.customers:
            lat, lon = offset(*origin, c.y, c.x)
            created = await post(
                http,
                "/customers",
                {"name": f"{name} customer", "lat": lat, "lon": lon, "status": "customer",
                 "org_unit_id": unit},
                admin,
            )  # fmt: skip
            c.id = created["id"]
            if c.fenced:
                await post(
                    http,
                    "/geofences",
                    {"name": f"{name} customer", "customer_id": c.id, "dwell_s": 120,
                     "circle": {"lat": lat, "lon": lon, "radius_m": FENCE_M}},
                    admin,
                )  # fmt: skip


async def _drive_by_fences(
    http: httpx.AsyncClient,
    admin: dict[str, str],
    name: str,
    origin: tuple[float, float],
    stops: list[tuple[float, float]],
    passed: list[tuple[float, float]],
) -> set[str]:
    """Up to six fences mid-block on streets driven along, 300 m apart, away from every
    building's street front the agent parked at; their ids."""
    chosen: list[tuple[float, float]] = []
    for x, y in passed:
        if all(math.hypot(x - sx, y - sy) > 200 for sx, sy in stops) and all(
            math.hypot(x - cx, y - cy) > 300 for cx, cy in chosen
        ):
            chosen.append((x, y))
    placed = set()
    for k, (x, y) in enumerate(chosen[:6]):
        lat, lon = offset(*origin, y, x)
        fence = await post(
            http,
            "/geofences",
            {"name": f"{name}.{k}", "dwell_s": 120,
             "circle": {"lat": lat, "lon": lon, "radius_m": FENCE_M}},
            admin,
        )  # fmt: skip
        placed.add(fence["id"])
    return placed


async def _upload(
    http: httpx.AsyncClient,
    h: dict[str, str],
    device_id: str,
    times: list[float],
    points: list[dict[str, Any]],
) -> None:
    """The day's fixes uploaded the way the app does (every UPLOAD_EVERY_S of fixes, at most
    1,000 a request), then its day ended."""
    start = times[0] if times else 0.0
    batch: list[dict[str, Any]] = []
    upload_at = start + UPLOAD_EVERY_S
    for t, p in zip(times, points, strict=True):
        if t >= upload_at and batch:
            await post(http, "/ingest/locations", {"device_id": device_id, "points": batch}, h)
            batch, upload_at = [], upload_at + UPLOAD_EVERY_S
        batch.append(p)
        if len(batch) == 1000:
            await post(http, "/ingest/locations", {"device_id": device_id, "points": batch}, h)
            batch = []
    if batch:
        await post(http, "/ingest/locations", {"device_id": device_id, "points": batch}, h)
    await post(http, "/ingest/day-end", {"device_id": device_id}, h)


async def phone_scenarios(
    base_url: str,
    tenant: str,
    admin_email: str,
    password: str,
    seed: int,
    say: Any,
    wanted: Callable[[str], bool] = lambda name: True,
    out_dir: Path | None = None,
) -> dict[str, dict[str, Any]]:
    """The phone scenarios (those `wanted`) on a running API, scored like the simulated day
    (each one's truth, visits and fence events written under `out_dir`)."""

    out: dict[str, dict[str, Any]] = {}
    async with httpx.AsyncClient(base_url=base_url, timeout=120, trust_env=False) as http:
        admin, unit = await admin_and_team(http, tenant, admin_email, password)
        for index, name in enumerate(SCENARIOS, start=1):
            if not wanted(name):
                continue
            got = await run_scenario(http, tenant, admin, unit, name, index, seed, say)
            if out_dir is not None:
                _write(out_dir, name, got)
            s = score(got["truth"], got["detected"], got["events"], 3)
            out[name] = figures(
                s, got["pass_through_entries"], drive_by_fences=got["drive_by_fences"]
            )
    return out


def _write(out_dir: Path, name: str, got: dict[str, Any]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{name}.json").write_text(json.dumps(got, indent=1))
