"""The day as it happened against a constructed day with known answers; team and store figures
against a hand-made presence log; the audit of managers' reads."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.backend.world import Tenant, errors_for, offset, ok

HOME = (37.50, 127.00)
DAY = date(2026, 11, 10)


def at(h: int, m: int = 0) -> datetime:
    return datetime(DAY.year, DAY.month, DAY.day, h, m, tzinfo=UTC)


class Day:
    def __init__(self, t: Tenant) -> None:
        self.t = t
        self.customers: dict[str, str] = {}
        self.visits: dict[str, uuid.UUID] = {}
        self.device = ""


@pytest_asyncio.fixture(scope="module")
async def day(client: AsyncTestClient[Litestar], tenant: Tenant, engine: AsyncEngine) -> Day:
    t, d = tenant, Day(tenant)
    profile = {
        "start": {"lat": HOME[0], "lon": HOME[1]},
        "shift_start": "09:00",
        "shift_end": "18:00",
        "timezone": "UTC",
    }
    r = await client.put(f"/agents/{t.users['agent']}/profile", json=profile, headers=t.h("admin"))
    assert r.status_code == 200, r.text
    places = {"A": (1000, 0), "B": (0, 2000), "C": (-1500, 0), "D": (3000, 3000)}
    for name, (north, east) in places.items():
        c = await t.post(
            "manager",
            "/customers",
            {
                "name": name,
                "status": "customer",
                "life_stage": "young_family" if name != "B" else "retired",
                "assigned_agent_id": str(t.users["agent"]),
                **offset(HOME[0], HOME[1], north, east),
            },
        )
        d.customers[name] = c["id"]
    dev = await t.device("agent")
    d.device = dev["id"]
    plan_id = uuid.uuid4()
    agent = t.users["agent"]
    async with engine.begin() as conn:
        await conn.execute(
            text(
                """INSERT INTO plans (tenant_id, id, agent_id, plan_date, revision, status,
                       depart_at, arrive_at, travel_s, wait_s, service_s, distance_m, score,
                       solve_ms, strategy, route, dropped, inputs)
                   VALUES (:t, :id, :a, :day, 1, 'active', :dep, :arr, 0, 0, 0, 0, 0, 0, 'x',
                           ST_GeogFromText('LINESTRING(127 37.5, 127.01 37.51)'), '[]', '{}')"""
            ),
            {"t": t.id, "id": plan_id, "a": agent, "day": DAY, "dep": at(9), "arr": at(17)},
        )
        # A at 10:00 (visited 10:05: done), B at 11:00 (visited 14:30: moved), C at 12:00
        # (never: skipped); D is visited without being planned.
        for seq, (name, h) in enumerate([("A", 10), ("B", 11), ("C", 12)], start=1):
            await conn.execute(
                text(
                    """INSERT INTO plan_stops (tenant_id, plan_id, seq, customer_id, kind,
                           arrival_at, start_at, departure_at, travel_s, wait_s, distance_m,
                           score, status)
                       VALUES (:t, :p, :seq, :c, 'prospect', :s, :s, :e, 0, 0, 0, 1,
                               'planned')"""
                ),
                {
                    "t": t.id,
                    "p": plan_id,
                    "seq": seq,
                    "c": uuid.UUID(d.customers[name]),
                    "s": at(h),
                    "e": at(h, 30),
                },
            )
        visits = [
            ("A", at(10, 5), at(10, 35), "sale"),
            ("B", at(14, 30), at(15, 0), "met"),
            ("D", at(16, 0), at(16, 20), "not_home"),
        ]
        for name, arrived, departed, outcome in visits:
            vid = uuid.uuid4()
            d.visits[name] = vid
            await conn.execute(
                text(
                    """INSERT INTO visits (tenant_id, id, agent_id, device_id, source,
                           customer_id, arrived_at, departed_at, lat, lon, outcome)
                       VALUES (:t, :id, :a, :dev, 'stop', :c, :arr, :dep, :lat, :lon, :o)"""
                ),
                {
                    "t": t.id,
                    "id": vid,
                    "a": agent,
                    "dev": uuid.UUID(d.device),
                    "c": uuid.UUID(d.customers[name]),
                    "arr": arrived,
                    "dep": departed,
                    "lat": HOME[0],
                    "lon": HOME[1],
                    "o": outcome,
                },
            )
        # Points: one at 08:00 (before the shift: never shown), then from 09:30 a drive north
        # 1 km to A, A until 10:35, standing still until 14:00 (idle), then on to B.
        track = [(at(8), 0.0, 0.0)]
        track += [(at(9, 30) + timedelta(minutes=i), 100.0 * i, 0.0) for i in range(11)]
        track += [(at(10, 5) + timedelta(minutes=5 * i), 1000.0, 0.0) for i in range(7)]
        track += [(at(11) + timedelta(minutes=30 * i), 1000.0, 0.0) for i in range(7)]
        track += [
            (at(14) + timedelta(minutes=3 * i), 1000.0 - 100 * i, 200.0 * i) for i in range(10)
        ]
        for when, north, east in track:
            p = offset(HOME[0], HOME[1], north, east)
            await conn.execute(
                text(
                    """INSERT INTO pings (tenant_id, device_id, client_id, fix_time, received_at,
                           lat, lon, accuracy_m) VALUES (:t, :d, :c, :f, :f, :lat, :lon, 10)"""
                ),
                {
                    "t": t.id,
                    "d": uuid.UUID(d.device),
                    "c": uuid.uuid4(),
                    "f": when,
                    "lat": p["lat"],
                    "lon": p["lon"],
                },
            )
    return d


async def test_plan_against_actual_on_a_constructed_day(
    client: AsyncTestClient[Litestar], day: Day, engine: AsyncEngine
) -> None:
    t = day.t
    got = await ok(
        await client.get(f"/agents/{t.users['agent']}/days/{DAY}", headers=t.h("manager")), 200
    )
    pva = got["plan_against_actual"]
    status = {s["customer_id"]: s["status"] for s in pva["stops"]}
    assert status == {
        day.customers["A"]: "done",
        day.customers["B"]: "moved",
        day.customers["C"]: "skipped",
    }
    assert (pva["planned"], pva["done"], pva["moved"], pva["skipped"]) == (3, 1, 1, 1)
    assert pva["unplanned_visits"] == [str(day.visits["D"])]
    assert pva["adherence"] == 0.667
    moved = next(s for s in pva["stops"] if s["status"] == "moved")
    assert moved["delay_min"] == 210
    assert got["visits"] == 3
    assert got["time_on_site_s"] == (30 + 30 + 20) * 60
    # Nothing before the 09:00 shift: the 08:00 point is not in the track.
    assert got["first_activity_at"].startswith(f"{DAY}T09:30")
    assert len(got["track"]["coordinates"]) == 11 + 7 + 7 + 10
    kinds = [(i["kind"], i["start"][11:16], i["end"][11:16]) for i in got["timeline"]]
    assert kinds == [
        ("travel", "09:30", "09:40"),  # the drive to A
        ("idle", "09:40", "10:05"),  # early, waiting
        ("visit", "10:05", "10:35"),
        ("idle", "10:35", "14:00"),  # still at A's for hours
        ("travel", "14:00", "14:30"),  # on to B
        ("visit", "14:30", "15:00"),
        ("no_data", "15:00", "16:00"),  # no points
        ("visit", "16:00", "16:20"),
    ]
    assert got["travelling_s"] == 40 * 60 and got["idle_s"] == (25 + 205) * 60
    travel = [i for i in got["timeline"] if i["kind"] == "travel"]
    assert 950 <= travel[0]["distance_m"] <= 1050
    assert got["distance_m"] >= 950 + 1800
    assert got["route"]["type"] == "LineString"
    unplanned = next(i for i in got["timeline"] if i.get("visit_id") == str(day.visits["D"]))
    assert unplanned["planned"] is False and unplanned["outcome"] == "not_home"

    # The manager's read is in the audit log; the agent reading their own day is not.
    before = await ok(
        await client.get(
            "/audit-log", params={"subject_user_id": str(t.users["agent"])}, headers=t.h("admin")
        ),
        200,
    )
    await ok(await client.get(f"/agents/{t.users['agent']}/days/{DAY}", headers=t.h("agent")), 200)
    after = await ok(
        await client.get(
            "/audit-log", params={"subject_user_id": str(t.users["agent"])}, headers=t.h("admin")
        ),
        200,
    )
    assert len(after) == len(before) >= 1
    assert before[0]["actor_id"] == str(t.users["manager"])
    assert before[0]["action"] == "read_location_history"
    assert before[0]["detail"]["day"] == str(DAY)
    assert (await client.get("/audit-log", headers=t.h("manager"))).status_code == 403


async def test_day_access_and_bad_input(client: AsyncTestClient[Litestar], day: Day) -> None:
    t = day.t
    resp = await client.get(f"/agents/{t.users['agent']}/days/{DAY}", headers=t.h("agent2"))
    assert resp.status_code == 422 and errors_for(resp) == ["agent_id"]
    resp = await client.get(f"/agents/{uuid.uuid4()}/days/{DAY}", headers=t.h("admin"))
    assert resp.status_code == 422 and errors_for(resp) == ["agent_id"]
    resp = await client.get(f"/agents/{t.users['agent']}/days/2026-13-01", headers=t.h("admin"))
    assert resp.status_code in (400, 404)


async def test_team_figures_and_heatmap(client: AsyncTestClient[Litestar], day: Day) -> None:
    t = day.t
    params = {"since": str(DAY), "until": str(DAY)}
    got = await ok(
        await client.get(
            f"/org-units/{t.units['R1']}/figures", params=params, headers=t.h("manager")
        ),
        200,
    )
    agent = next(a for a in got["agents"] if a["agent_id"] == str(t.users["agent"]))
    assert (agent["visits"], agent["customers_contacted"], agent["conversions"]) == (3, 3, 1)
    assert agent["visits_per_day"] == 3.0
    # 3 visits to a book of 4 customers in 1 day: 0.75 contacts per customer-day, x30.
    assert agent["contact_frequency_30d"] == 22.5
    assert agent["planned_stops"] == 3 and agent["plan_adherence"] == 0.0
    segments = {s["segment"]: s for s in got["conversion_by_segment"]}
    assert segments["young_family"]["talks"] == 1 and segments["young_family"]["conversions"] == 1
    assert segments["retired"] == {"segment": "retired", "talks": 1, "conversions": 0, "rate": 0.0}
    assert got["untouched_customers"] >= 4
    heat = await ok(
        await client.get(
            f"/org-units/{t.units['R1']}/heatmap", params=params, headers=t.h("manager")
        ),
        200,
    )
    assert sum(f["properties"]["visits"] for f in heat["features"]) == 3
    # R2 is not the manager's; ranges over a year and reversed ranges are refused.
    resp = await client.get(
        f"/org-units/{t.units['R2']}/figures", params=params, headers=t.h("manager")
    )
    assert resp.status_code == 404
    resp = await client.get(
        f"/org-units/{t.units['R1']}/figures",
        params={"since": "2025-01-01", "until": "2026-11-10"},
        headers=t.h("manager"),
    )
    assert resp.status_code == 422 and errors_for(resp) == ["until"]
    resp = await client.get(
        f"/org-units/{t.units['R1']}/figures",
        params={"since": "2026-11-10", "until": "2026-11-01"},
        headers=t.h("manager"),
    )
    assert resp.status_code == 422
    resp = await client.get(
        f"/org-units/{t.units['R1']}/figures", params=params, headers=t.h("agent")
    )
    assert resp.status_code == 403


async def test_store_figures_against_a_hand_made_presence_log(
    client: AsyncTestClient[Litestar], tenant: Tenant, engine: AsyncEngine
) -> None:
    t = tenant
    store = await t.post(
        "admin", "/places", {"kind": "store", "name": "Shop", "lat": 37.6, "lon": 127.1}
    )
    fence = await t.post(
        "admin",
        "/geofences",
        {
            "name": "Shop front",
            "circle": {"lat": 37.6, "lon": 127.1, "radius_m": 60},
            "place_id": store["id"],
        },
    )
    devices = [(await t.device("agent", f"d{i}"))["id"] for i in range(4)]
    d1, d2, d3, d4 = (uuid.UUID(x) for x in devices)
    # d1 twice by beacon (10 and 40 min), d2 once by Wi-Fi (3 min), d3 once by the fence's
    # dwell (90 min); the outer fence saw d1, d2 and d4 (d4 never came in).
    log = [
        (d1, "beacon", at(10), at(10, 10)),
        (d1, "beacon", at(11) + timedelta(days=1), at(11, 40) + timedelta(days=1)),
        (d2, "wifi", at(10, 30), at(10, 33)),
        (d3, "geofence", at(12), at(13, 30)),
    ]
    async with engine.begin() as conn:
        for dev, source, arrived, departed in log:
            await conn.execute(
                text(
                    """INSERT INTO visits (tenant_id, id, agent_id, device_id, source, place_id,
                           arrived_at, departed_at)
                       VALUES (:t, :id, :a, :d, :s, :p, :arr, :dep)"""
                ),
                {
                    "t": t.id,
                    "id": uuid.uuid4(),
                    "a": t.users["agent"],
                    "d": dev,
                    "s": source,
                    "p": uuid.UUID(store["id"]),
                    "arr": arrived,
                    "dep": departed,
                },
            )
        for dev in (d1, d2, d4):
            await conn.execute(
                text(
                    """INSERT INTO events (tenant_id, id, kind, occurred_at, device_id, subject,
                           fence_id, place_id)
                       VALUES (:t, :id, 'entered', :at, :d, :subject, :f, :p)"""
                ),
                {
                    "t": t.id,
                    "id": uuid.uuid4(),
                    "at": at(9, 55),
                    "d": dev,
                    "f": uuid.UUID(fence["id"]),
                    "subject": fence["id"],
                    "p": uuid.UUID(store["id"]),
                },
            )
    params = {"since": str(DAY), "until": str(DAY + timedelta(days=1))}
    got = await ok(
        await client.get(f"/places/{store['id']}/figures", params=params, headers=t.h("admin")), 200
    )
    assert (got["visits"], got["visitors"]) == (4, 3)
    assert got["visitors_per_hour"][10] == 2 and got["visitors_per_hour"][11] == 1
    assert got["visitors_per_hour"][12] == 1 and sum(got["visitors_per_hour"]) == 4
    assert [b["visits"] for b in got["dwell"]] == [1, 1, 0, 1, 1]
    assert got["median_dwell_s"] == 25 * 60
    assert got["revisit_ratio"] == 0.333
    assert got["outer_fence_devices"] == 3 and got["capture_rate"] == 0.667
    # Seoul time moves the hours by nine.
    seoul = await ok(
        await client.get(
            f"/places/{store['id']}/figures",
            params={**params, "tz": "Asia/Seoul"},
            headers=t.h("admin"),
        ),
        200,
    )
    assert seoul["visitors_per_hour"][19] == 2
    resp = await client.get(
        f"/places/{store['id']}/figures", params={**params, "tz": "Mars/Base"}, headers=t.h("admin")
    )
    assert resp.status_code == 422 and errors_for(resp) == ["tz"]
    resp = await client.get(f"/places/{store['id']}/figures", params=params, headers=t.h("agent"))
    assert resp.status_code == 403
