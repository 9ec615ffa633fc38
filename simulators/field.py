"""Field agents living a working day through the API, as their phones would.

Each agent fetches their plan and travels it on the simulation clock: driving between stops
(fixes every 15 s), staying for the visit (fixes every 30 s), all through `gps.Receiver`
(accuracy, urban canyons, gaps). Phones upload in batches every two minutes, and now and then
go offline for half an hour and upload the stretch as one late batch. Some agents cancel a
visit on the way: they ask for a re-plan from where they are, then ask "what fits in my free
minutes here" and go to the first suggestion. A few cheat once with a mock-location app
(points at a customer they never visit, flagged `mock`). After the day each agent records an
outcome on the visits the server detected.

Every true visit (customer, arrival, departure) goes into the ground truth; the cheat's
fake stay does not.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from simulators.gps import Canyons, Receiver, distance_m

MOVING_EVERY_S = 15.0
STILL_EVERY_S = 30.0
UPLOAD_EVERY_S = 300.0  # a battery-saving field app uploads every five minutes
# How the simulated agents drive, from what city traffic does (not from the planner's model):
# about 24 km/h along the streets between lights and junctions, each agent a little faster or
# slower, each trip its own traffic (log-normal, a quarter either way is common), and a few
# minutes to park and walk to the door. Where the plan's route is straight segments (no road
# network), the street path is longer than the line by a circuity factor: urban road networks
# measure 1.2 to 1.4 times the straight line.
STREET_MPS = 6.7
TRAFFIC_SIGMA = 0.25
PARK_S = (60.0, 240.0)
CIRCUITY = (1.15, 1.5)
OUTCOMES = ("met", "met", "not_home", "declined", "appointment_set", "sale")


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def ts(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


class Clock:
    """Simulated time paced against the wall clock (`factor` x faster), or not at all."""

    def __init__(self, start: float, factor: float | None) -> None:
        self.start = start
        self.factor = factor
        self.wall0 = time.monotonic()

    async def until(self, t: float) -> None:
        if not self.factor:
            return
        delay = (t - self.start) / self.factor - (time.monotonic() - self.wall0)
        if delay > 0:
            await asyncio.sleep(delay)


@dataclass
class Agent:
    id: str
    email: str
    token: str
    device_id: str

    def h(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}


@dataclass
class Stats:
    points: int = 0
    batches: int = 0
    late_batches: int = 0
    outliers: int = 0
    cancelled: int = 0
    replans: int = 0
    suggestions_asked: int = 0
    suggestions_taken: int = 0
    mock_points: int = 0
    outcomes: int = 0
    errors: list[str] = field(default_factory=list)


class AgentDay:
    def __init__(
        self,
        http: httpx.AsyncClient,
        agent: Agent,
        day: str,
        clock: Clock,
        canyons: Canyons,
        seed: int,
        cancel_rate: float = 0.35,
        cheat_rate: float = 0.15,
        offline_rate: float = 0.5,
        places: dict[str, tuple[float, float]] | None = None,
        max_stops: int | None = None,
    ) -> None:
        self.http = http
        self.a = agent
        self.day = day
        self.clock = clock
        self.rng = random.Random(f"{seed}:{agent.email}")
        self.gps = Receiver(self.rng, canyons)
        self.seed = seed
        self.cancel_rate = cancel_rate
        self.cheat_rate = cheat_rate
        self.offline_rate = offline_rate
        self.places = places or {}  # where each customer is (the world, not the phone)
        self.max_stops = max_stops
        self.truth: list[dict[str, Any]] = []
        self.stats = Stats()
        self.buffer: list[dict[str, Any]] = []
        self.last_upload = 0.0
        self.offline: tuple[float, float] = (0.0, 0.0)
        self.pos = (0.0, 0.0)
        self.t = 0.0
        self.speed = STREET_MPS * self.rng.uniform(0.85, 1.15)  # this driver
        self.route: list[tuple[float, float]] = []  # the plan's line, (lat, lon)
        self.cursor = 0  # how far along it the agent has come

    # --- the phone -----------------------------------------------------------------------
    def _point(self, t: float, lat: float, lon: float, mock: bool = False) -> None:
        fix = self.gps.fix(t, lat, lon)
        if fix is None:
            return
        # Client ids follow from the seed: a re-run of the same day re-sends the same points.
        cid = uuid.uuid5(uuid.NAMESPACE_URL, f"{self.seed}/{self.a.device_id}/{t:.1f}/{mock}")
        point = {"client_id": str(cid), "time": iso(t), **fix}
        if mock:
            point["mock"] = True
            self.stats.mock_points += 1
        self.buffer.append(point)

    async def _upload(self, force: bool = False) -> None:
        if not self.buffer:
            return
        lo, hi = self.offline
        if not force and (self.t - self.last_upload < UPLOAD_EVERY_S or lo <= self.t < hi):
            return
        late = self.t - ts(self.buffer[0]["time"]) > 15 * 60
        await self.clock.until(self.t)
        while self.buffer:
            chunk, self.buffer = self.buffer[:1000], self.buffer[1000:]
            resp = await self._send(
                "/ingest/locations", {"device_id": self.a.device_id, "points": chunk}
            )
            if resp.status_code != 200:
                self.stats.errors.append(f"upload {resp.status_code}: {resp.text[:200]}")
            self.stats.points += len(chunk)
            self.stats.batches += 1
            self.stats.late_batches += int(late)
        self.last_upload = self.t

    async def _send(self, path: str, body: dict[str, Any]) -> httpx.Response:
        """POST as the app does: told to slow down (429, with the server's `retry_after_s`),
        it waits and sends again, a few times, before it gives up."""
        for _ in range(5):
            resp = await self.http.post(path, json=body, headers=self.a.h())
            if resp.status_code != 429:
                return resp
            extra = resp.json().get("extra") or {}
            await asyncio.sleep(float(extra.get("retry_after_s", 1)))
        return resp

    async def _still(self, until: float) -> None:
        while self.t < until:
            self._point(self.t, *self.pos)
            self.t = min(until, self.t + STILL_EVERY_S * self.rng.uniform(0.8, 1.2))
            await self._upload()

    def _follow(self, route: dict[str, Any]) -> None:
        self.route = [(lat, lon) for lon, lat in route["coordinates"]]
        self.cursor = 0

    def _street_path(self, to: tuple[float, float]) -> list[tuple[float, float]]:
        """The plan's line from here to ``to`` (the stretch between the vertices nearest each),
        or the straight line when the plan's line does not lead there."""
        ahead = self.route[self.cursor :]
        if len(ahead) < 2:
            return [self.pos, to]
        near_to = min(range(len(ahead)), key=lambda k: distance_m(ahead[k], to))
        if distance_m(ahead[near_to], to) > 150:
            return [self.pos, to]  # not on the plan (a suggestion): straight there
        near_here = min(range(near_to + 1), key=lambda k: distance_m(ahead[k], self.pos))
        self.cursor += near_to
        return [self.pos, *ahead[near_here : near_to + 1], to]

    async def _drive(self, to: tuple[float, float], arrive_by: float | None = None) -> None:
        path = self._street_path(to)
        lengths = [distance_m(a, b) for a, b in itertools.pairwise(path)]
        total = sum(lengths)
        if len(path) <= 3:  # straight segments: the streets are longer than the line
            total *= self.rng.uniform(*CIRCUITY)
        speed = self.speed * self.rng.lognormvariate(0.0, TRAFFIC_SIGMA)
        driving = total / speed
        duration = max(60.0, driving + self.rng.uniform(*PARK_S))
        if arrive_by is not None and arrive_by - self.t > duration:
            await self._still(arrive_by - duration)  # leave later rather than wait outside
        t0 = self.t
        while self.t < t0 + driving:
            self._point(self.t, *_along(path, lengths, (self.t - t0) / driving))
            self.t += MOVING_EVERY_S
            await self._upload()
        self.pos, self.t = to, max(self.t, t0 + duration)

    async def _visit(self, customer: str, where: tuple[float, float], stay_s: float) -> None:
        arrived = self.t
        await self._still(arrived + stay_s)
        self.truth.append(
            {
                "agent_id": self.a.id,
                "customer_id": customer,
                "arrived_at": iso(arrived),
                "departed_at": iso(self.t),
                "lat": where[0],  # where the customer is (for reading a run's results)
                "lon": where[1],
            }
        )

    async def _cheat(self) -> None:
        """Mock points at a customer 2-10 km away for 8 minutes, while really standing still."""
        far = sorted(
            c for c, where in self.places.items() if 2000 < distance_m(where, self.pos) < 10_000
        )
        if not far:
            return
        where = self.places[self.rng.choice(far)]
        end = self.t + 480
        while self.t < end:
            self._point(self.t, *where, mock=True)
            self._point(self.t + 1, *self.pos)
            self.t += 30
            await self._upload()

    # --- the day -------------------------------------------------------------------------
    async def run(self) -> None:
        try:
            await self._run()
        except httpx.HTTPError as exc:
            self.stats.errors.append(f"{type(exc).__name__}: {exc}")
        self.stats.outliers = self.gps.outliers

    async def _plan(self, morning: bool = True) -> dict[str, Any] | None:
        """The plan the phone fetched in the morning (the first revision; a re-run of the same
        day starts from it again), or the active one (what a re-plan works on)."""
        resp = await self.http.get(
            "/plans",
            params={"agent_id": self.a.id, "plan_date": self.day, "include_superseded": morning},
            headers=self.a.h(),
        )
        resp.raise_for_status()
        plans = resp.json() if morning else [p for p in resp.json() if p["status"] == "active"]
        return min(plans, key=lambda p: p["revision"]) if plans else None

    async def _run(self) -> None:
        plan = await self._plan()
        if plan is None or not plan["stops"]:
            return
        coords = plan["route"]["coordinates"]
        self._follow(plan["route"])
        self.pos = (coords[0][1], coords[0][0])
        self.t = ts(plan["depart_at"])
        self.last_upload = self.t
        if self.rng.random() < self.offline_rate:
            lo = self.t + self.rng.uniform(3600, 5 * 3600)
            self.offline = (lo, lo + self.rng.uniform(20 * 60, 40 * 60))
        stops = _stops(plan, self.places)[: self.max_stops]
        if not stops:
            return
        cheat_at = self.rng.randrange(len(stops)) if self.rng.random() < self.cheat_rate else -1
        cancel_at = (
            self.rng.randrange(1, len(stops))
            if len(stops) > 1 and self.rng.random() < self.cancel_rate
            else -1
        )
        done: list[str] = []
        i = 0
        while i < len(stops):
            s = stops[i]
            if i == cheat_at:
                await self._cheat()
            if i == cancel_at:
                cancel_at = -1
                stops = await self._cancel(plan, s, done)
                i = 0
                continue
            await self._drive(s["where"], arrive_by=s["start"])
            await self._visit(s["customer_id"], s["where"], s["service_s"])
            done.append(s["customer_id"])
            i += 1
        end = (coords[-1][1], coords[-1][0])
        await self._drive(end)
        await self._upload(force=True)
        # The app ends the day (the points of the drive home fall outside the shift and are
        # not kept: without this the last visit would wait for the day-end job).
        resp = await self._send("/ingest/day-end", {"device_id": self.a.device_id})
        if resp.status_code != 200:
            self.stats.errors.append(f"day-end {resp.status_code}: {resp.text[:200]}")

    async def _cancel(
        self, plan: dict[str, Any], cancelled: dict[str, Any], done: list[str]
    ) -> list[dict[str, Any]]:
        """The customer cancels: re-plan from here, then fill the gap with a suggestion."""
        self.stats.cancelled += 1
        await self._upload(force=True)
        active = await self._plan(morning=False)
        resp = await self.http.post(
            f"/plans/{(active or plan)['id']}/replan",
            json={
                "position": {"lat": self.pos[0], "lon": self.pos[1]},
                "at": iso(self.t),
                "cancelled": [cancelled["customer_id"]],
                "done": done,
            },
            headers=self.a.h(),
        )
        if resp.status_code != 201 and resp.status_code != 200:
            self.stats.errors.append(f"replan {resp.status_code}: {resp.text[:200]}")
            return []
        self.stats.replans += 1
        new = resp.json()
        plan.update(new)
        self._follow(new["route"])
        rest = [
            s
            for s in _stops(new, self.places)
            if s["customer_id"] not in done and s["start"] >= self.t
        ]
        nxt = rest[0] if rest else None
        free_s = (nxt["start"] - self.t) if nxt else 3600.0
        if free_s >= 40 * 60:
            body: dict[str, Any] = {
                "position": {"lat": self.pos[0], "lon": self.pos[1]},
                "free_minutes": int(min(free_s, 3 * 3600) // 60),
                "at": iso(self.t),
                "service_min": 20,
            }
            if nxt:
                body["next"] = {"lat": nxt["where"][0], "lon": nxt["where"][1]}
            self.stats.suggestions_asked += 1
            got = await self.http.post("/recommendations/free-time", json=body, headers=self.a.h())
            items = got.json().get("items", []) if got.status_code in (200, 201) else []
            taken = {s["customer_id"] for s in rest} | set(done)
            items = [x for x in items if x["customer_id"] not in taken]
            if items:
                pick = items[0]
                self.stats.suggestions_taken += 1
                where = (pick["lat"], pick["lon"])
                await self._drive(where)
                await self._visit(pick["customer_id"], where, pick["service_s"])
                done.append(pick["customer_id"])
        return rest

    async def record_outcomes(self, visits: list[dict[str, Any]]) -> None:
        for v in visits:
            if v["customer_id"] is None or v["outcome"] is not None:
                continue
            resp = await self.http.patch(
                f"/visits/{v['id']}",
                json={"outcome": self.rng.choice(OUTCOMES)},
                headers=self.a.h(),
            )
            if resp.status_code == 200:
                self.stats.outcomes += 1


def _along(path: list[tuple[float, float]], lengths: list[float], f: float) -> tuple[float, float]:
    """The point a share ``f`` of the way along ``path`` (segment lengths given)."""
    goal = max(0.0, min(1.0, f)) * sum(lengths)
    for (a, b), length in zip(itertools.pairwise(path), lengths, strict=True):
        if goal <= length and length > 0:
            g = goal / length
            return a[0] + (b[0] - a[0]) * g, a[1] + (b[1] - a[1]) * g
        goal -= length
    return path[-1]


def _stops(plan: dict[str, Any], places: dict[str, tuple[float, float]]) -> list[dict[str, Any]]:
    out = []
    for s in plan["stops"]:
        if s["customer_id"] not in places:
            continue
        lat, lon = places[s["customer_id"]]
        service = ts(s["departure_at"]) - ts(s["start_at"])
        out.append(
            {
                "customer_id": s["customer_id"],
                "where": (lat, lon),
                "start": ts(s["start_at"]),
                "service_s": max(300.0, service),
            }
        )
    return out


def day_bounds(day: str) -> tuple[str, str]:
    d = datetime.fromisoformat(day).replace(tzinfo=UTC)
    return (d - timedelta(hours=12)).isoformat(), (d + timedelta(hours=36)).isoformat()
