"""One simulated working day against a running fieldsense, scored against its ground truth.

Used by `fieldsense demo` (paced: a day in about two minutes) and `fieldsense eval visits`
(unpaced, fixed seed). HTTP only: it logs in like the apps do, plans the day for the agents
(as the nightly job would), runs the agents (`field`), the shoppers (`shoppers`) and a store
app's webhook receiver (`receiver`), then reads back the visits the server detected and
scores them: a detected visit matches a true one when it is the same agent at the same
customer and the two overlap in time (each matched once).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as time_of_day
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from simulators.api import login, pages
from simulators.field import Agent, AgentDay, Clock, iso, ts
from simulators.gps import Canyons
from simulators.receiver import Receiver
from simulators.score import Score, score
from simulators.shoppers import Store, shop

SEOUL = ZoneInfo("Asia/Seoul")
PANEL_EMAIL = "footfall-panel@sim.fieldsense"
WEBHOOK_TYPES = ["entered", "dwelled", "beacon_entered", "wifi_entered", "visit_started"]


@dataclass
class DayConfig:
    base_url: str
    tenant: str
    admin_email: str
    password: str
    agents: int = 20
    stores: int = 5
    shoppers_per_store: int = 4
    seed: int = 7
    factor: float | None = None  # None: as fast as the server answers
    day: date | None = None
    out_dir: Path | None = None
    plan_time_limit_s: float = 1.0
    progress: Callable[[str], None] = print
    webhook_wait_s: float = 30.0
    stops_per_agent: int | None = None  # a shorter day: only the first stops of each plan
    cancel_rate: float = 0.35


def last_working_day(now: datetime) -> date:
    """Today in Seoul if its working day (to 18:30) is over, else yesterday."""
    local = now.astimezone(SEOUL)
    return (
        local.date()
        if local.hour * 60 + local.minute >= 18 * 60 + 30
        else local.date() - timedelta(days=1)
    )


def shift_end(day: date, profile: dict[str, Any]) -> float:
    """When the agent's shift ends on `day` (epoch seconds), from their planning profile."""
    end = time_of_day.fromisoformat(profile.get("shift_end") or "18:00")
    tz = ZoneInfo(profile.get("timezone") or "UTC")
    return datetime.combine(day, end, tz).timestamp()


async def simulate(cfg: DayConfig) -> dict[str, Any]:
    """The day, in phases: the field force and its plans, the store app listening, the agents
    living the day (and shoppers walking into stores), then what the API detected, scored
    against what happened."""
    say = cfg.progress
    day = cfg.day or last_working_day(datetime.now(UTC))
    async with httpx.AsyncClient(base_url=cfg.base_url, timeout=60, trust_env=False) as http:
        admin_token = await login(http, cfg.tenant, cfg.admin_email, cfg.password)
        admin = {"authorization": f"Bearer {admin_token}"}
        agents, shift_ends = await _field_force(http, admin, cfg, day)
        # A day is lived once: a second run would meet its own visits, re-plans and suggestions
        # (the free-time answer skips customers visited that day) and score nonsense.
        if await _already_lived(http, admin, agents, day):
            say(f"[sim] {day} was already lived in this database; not simulating it again")
            return {"already_simulated": True, "day": str(day)}
        await _ensure_plans(http, admin, agents, day, cfg)
        stores, receiver = await _store_app_listening(http, admin, cfg)
        panel_token, panel_devices = await _panel(http, admin, cfg)
        days = await _live(http, admin, agents, day, cfg)
        shopper_truth, shopper_counts = await shop(
            http, panel_token, panel_devices, list(stores), cfg.seed
        )
        walks, entries = shopper_counts["walks"], shopper_counts["entries"]
        say(f"[sim] shoppers: {walks} walks, {entries} into stores")
        # Webhooks arrive within seconds (the delivery job ticks every second).
        deadline = time.monotonic() + cfg.webhook_wait_s
        while time.monotonic() < deadline:
            if len(receiver.delivered_ids()) >= shopper_counts["entries"]:
                break
            await asyncio.sleep(0.5)
        receiver.stop()
        detected, events = await _detected(http, admin, agents, day)
        for d in days:
            await d.record_outcomes([v for v in detected if v["agent_id"] == d.a.id])
    # Points outside the agent's shift are not kept (the tenant's working-hours setting,
    # docs/security.md): a visit the agent began after the shift, running late, is not
    # there to be detected, and is counted apart.
    lived = [t for d in days for t in d.truth]
    truth = [t for t in lived if ts(t["arrived_at"]) < shift_ends.get(t["agent_id"], 1e18)]
    s = score(truth, detected, events, len(agents))
    errors = [e for d in days for e in d.stats.errors]
    summary = _summary(s, day, days, shopper_counts, len(lived) - len(truth), receiver, errors)
    if cfg.out_dir is not None:
        cfg.out_dir.mkdir(parents=True, exist_ok=True)
        (cfg.out_dir / "truth.json").write_text(
            json.dumps({"visits": truth, "store_entries": shopper_truth}, indent=1)
        )
        (cfg.out_dir / "detected.json").write_text(
            json.dumps({"visits": detected, "events": events}, indent=1)
        )
        (cfg.out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
        (cfg.out_dir / "errors.json").write_text(json.dumps(errors[:200], indent=1))
    return summary


def _day_bounds(day: date) -> tuple[str, str]:
    """The Seoul day, as the API's `since` and `until`."""
    start = datetime.combine(day, datetime.min.time(), SEOUL)
    return iso(start.timestamp()), iso((start + timedelta(days=1)).timestamp())


async def _field_force(
    http: httpx.AsyncClient, admin: dict[str, str], cfg: DayConfig, day: date
) -> tuple[list[Agent], dict[str, float]]:
    """The agents with a planning profile (where their day starts, their shift), logged in,
    each with a phone; and when each one's shift ends."""
    say = cfg.progress
    users = await pages(http, "/users", {"role": "agent"}, admin)
    users = sorted((u for u in users if u["email"] != PANEL_EMAIL), key=lambda u: u["email"])
    planned_users: list[dict[str, Any]] = []
    shift_ends: dict[str, float] = {}
    for u in users:
        if len(planned_users) == cfg.agents:
            break
        profile = await http.get(f"/agents/{u['id']}/profile", headers=admin)
        if profile.status_code == 200:
            planned_users.append(u)
            shift_ends[u["id"]] = shift_end(day, profile.json())
    if not planned_users:
        say("[sim] no agent has a planning profile: nothing to simulate (a fresh demo database")
        say("      has 20; `fieldsense db destroy` then `fieldsense demo` makes one)")
    say(f"[sim] {len(planned_users)} agents, day {day} (Seoul), seed {cfg.seed}")
    devices = await pages(http, "/devices", {}, admin)
    agents = []
    for u in planned_users:
        token = await login(http, cfg.tenant, u["email"], cfg.password)
        mine = [
            d for d in devices if d["user_id"] == u["id"] and d.get("status", "active") == "active"
        ]
        if mine:
            device = mine[0]["id"]
        else:
            resp = await http.post(
                "/devices",
                json={"name": "phone", "identifier": f"sim-{u['id']}", "user_id": u["id"]},
                headers=admin,
            )
            resp.raise_for_status()
            device = resp.json()["id"]
        agents.append(Agent(u["id"], u["email"], token, device))
    return agents, shift_ends


async def _already_lived(
    http: httpx.AsyncClient, admin: dict[str, str], agents: list[Agent], day: date
) -> bool:
    lo, hi = _day_bounds(day)
    for a in agents[:3]:
        seen = await http.get(
            "/visits", params={"agent_id": a.id, "since": lo, "until": hi, "limit": 1},
            headers=admin,
        )  # fmt: skip
        if seen.status_code == 200 and seen.json()["items"]:
            return True
    return False


async def _ensure_plans(
    http: httpx.AsyncClient, admin: dict[str, str], agents: list[Agent], day: date, cfg: DayConfig
) -> None:
    """The nightly job would have planned the day; make sure every agent has a plan."""
    made = 0
    for a in agents:
        resp = await http.get(
            "/plans", params={"agent_id": a.id, "plan_date": str(day)}, headers=admin
        )
        resp.raise_for_status()
        if any(p["status"] == "active" for p in resp.json()):
            continue
        resp = await http.post(
            "/plans",
            json={"agent_id": a.id, "date": str(day), "time_limit_s": cfg.plan_time_limit_s},
            headers=admin,
        )
        if resp.status_code == 201:
            made += 1
        else:
            cfg.progress(f"[sim] no plan for {a.email}: {resp.status_code} {resp.text[:120]}")
    cfg.progress(f"[sim] plans ready ({made} made now)")


async def _store_app_listening(
    http: httpx.AsyncClient, admin: dict[str, str], cfg: DayConfig
) -> tuple[Any, Receiver]:
    """The stores, and a store app's receiver subscribed to their walk-ins."""
    stores, store_key = await _stores(http, admin, cfg)
    receiver = Receiver().start()
    sub = await http.post(
        "/webhooks/subscriptions",
        json={"url": receiver.url, "event_types": WEBHOOK_TYPES,
              "description": "simulated store app"},
        headers={"x-api-key": store_key},
    )  # fmt: skip
    if sub.status_code != 201:
        cfg.progress(f"[sim] webhook subscription refused: {sub.status_code} {sub.text[:200]}")
    else:
        receiver.secret = sub.json()["secret"]
    return stores, receiver


async def _live(
    http: httpx.AsyncClient, admin: dict[str, str], agents: list[Agent], day: date, cfg: DayConfig
) -> list[AgentDay]:
    """Every agent lives the day at once on one clock, with a progress line every 2 s."""
    canyons = Canyons.around((37.55, 126.98), 12_000, 40, cfg.seed)
    start = min(
        (ts(p["depart_at"]) for p in await _plans(http, admin, agents, day)),
        default=time.time(),
    )
    clock = Clock(start, cfg.factor)
    customers = await pages(http, "/customers", {}, admin)
    places = {c["id"]: (c["lat"], c["lon"]) for c in customers}
    days = [
        AgentDay(http, a, str(day), clock, canyons, cfg.seed, places=places,
                 max_stops=cfg.stops_per_agent, cancel_rate=cfg.cancel_rate)
        for a in agents
    ]  # fmt: skip
    t0 = time.monotonic()
    tasks = [asyncio.create_task(d.run()) for d in days]
    while not all(t.done() for t in tasks):
        await asyncio.sleep(2)
        running = sorted(d.t for d, t in zip(days, tasks, strict=True) if d.t and not t.done())
        sim_now = running[len(running) // 2] if running else start
        cfg.progress(
            f"[sim] {datetime.fromtimestamp(sim_now, SEOUL):%H:%M} Seoul · "
            f"{sum(d.stats.points for d in days):,} points · "
            f"{sum(len(d.truth) for d in days)} visits made · "
            f"{sum(d.stats.replans for d in days)} re-plans · "
            f"{time.monotonic() - t0:.0f} s"
        )
    await asyncio.gather(*tasks)
    return days


async def _detected(
    http: httpx.AsyncClient, admin: dict[str, str], agents: list[Agent], day: date
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The day's customer visits and events, as the API has them."""
    lo, hi = _day_bounds(day)
    detected, events = [], []
    for a in agents:
        mine = await pages(http, "/visits", {"agent_id": a.id, "since": lo, "until": hi}, admin)
        detected += [v for v in mine if v["customer_id"] is not None]
        events += await pages(
            http, "/events", {"device_id": a.device_id, "since": lo, "until": hi}, admin
        )
    return detected, events


def _summary(
    s: Score,
    day: date,
    days: list[AgentDay],
    shoppers: dict[str, int],
    after_hours: int,
    receiver: Receiver,
    errors: list[Any],
) -> dict[str, Any]:
    stats = (
        {k: sum(getattr(d.stats, k) for d in days) for k in asdict(days[0].stats) if k != "errors"}
        if days
        else {}
    )
    hooks = receiver.hits
    return {
        **asdict(s),
        "day": str(day),
        "plans_replanned": stats.get("replans", 0),
        "suggestions_asked": stats.get("suggestions_asked", 0),
        "suggestions_taken": stats.get("suggestions_taken", 0),
        "outcomes_recorded": stats.get("outcomes", 0),
        "points_sent": stats.get("points", 0),
        "late_batches": stats.get("late_batches", 0),
        "canyon_outliers": stats.get("outliers", 0),
        "mock_points": stats.get("mock_points", 0),
        "store_entries": shoppers["entries"],
        "after_hours_visits": after_hours,
        "webhooks_delivered": len([h for h in hooks if h.status < 300]),
        "webhooks_verified": len([h for h in hooks if h.verified]),
        "errors": len(errors) + shoppers["errors"],
    }


async def _plans(
    http: httpx.AsyncClient, h: dict[str, str], agents: list[Agent], day: date
) -> list[dict[str, Any]]:
    out = []
    for a in agents:
        resp = await http.get("/plans", params={"agent_id": a.id, "plan_date": str(day)}, headers=h)
        out += [p for p in resp.json() if p["status"] == "active"]
    return out


async def _stores(
    http: httpx.AsyncClient, h: dict[str, str], cfg: DayConfig
) -> tuple[list[Store], str]:
    """The first stores with a beacon, and a store app (key) for them."""
    places = await pages(http, "/places", {"kind": "store"}, h)
    beacons = await pages(http, "/beacons", {}, h)
    wifi = await pages(http, "/wifi-access-points", {}, h)
    stores = []
    for p in sorted(places, key=lambda p: p["name"]):
        b = next((b for b in beacons if b["place_id"] == p["id"] and b.get("ibeacon_uuid")), None)
        if b is None:
            continue
        w = next((w for w in wifi if w["place_id"] == p["id"]), None)
        stores.append(
            Store(
                p["id"],
                p["lat"],
                p["lon"],
                {"ibeacon_uuid": b["ibeacon_uuid"], "major": b["major"], "minor": b["minor"]},
                w["bssid"] if w else None,
            )
        )
        if len(stores) == cfg.stores:
            break
    hq = (await pages(http, "/org-units", {"kind": "hq"}, h))[0]["id"]
    app = await http.post(
        "/store-apps",
        json={
            "name": f"Simulated store app {uuid.uuid4().hex[:6]}",
            "org_unit_id": hq,
            "store_ids": [s.id for s in stores],
        },
        headers=h,
    )
    app.raise_for_status()
    return stores, app.json()["api_key"]


async def _panel(
    http: httpx.AsyncClient, h: dict[str, str], cfg: DayConfig
) -> tuple[str, list[str]]:
    """The footfall panel: one user whose devices are the shoppers' phones (registered by the
    admin, as an agent's own would wait for approval)."""
    users = await pages(http, "/users", {"role": "agent"}, h)
    panel = [u for u in users if u["email"] == PANEL_EMAIL]
    if not panel:
        hq = (await pages(http, "/org-units", {"kind": "hq"}, h))[0]["id"]
        resp = await http.post(
            "/users",
            json={
                "email": PANEL_EMAIL,
                "name": "Footfall panel",
                "role": "agent",
                "org_unit_id": hq,
                "password": cfg.password,
            },
            headers=h,
        )
        resp.raise_for_status()
        panel = [resp.json()]
    token = await login(http, cfg.tenant, PANEL_EMAIL, cfg.password)
    ph = {"authorization": f"Bearer {token}"}
    have = await pages(http, "/devices", {}, ph)
    need = cfg.stores * cfg.shoppers_per_store
    devices = [d["id"] for d in have if d.get("status", "active") == "active"]
    while len(devices) < need:
        resp = await http.post(
            "/devices",
            json={
                "name": f"shopper {len(devices) + 1}",
                "identifier": str(uuid.uuid4()),
                "user_id": panel[0]["id"],
            },
            headers=h,
        )
        resp.raise_for_status()
        devices.append(resp.json()["id"])
    return token, devices[:need]
