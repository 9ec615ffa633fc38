"""Plans through the real API on real PostGIS: profiles, plans, re-plans, team plans."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from backend.plans.jobs import fulfil_plan_stops, plan_tomorrow
from backend.tracking.queries import plan_fulfilment
from tests.backend.world import Tenant, errors_for, offset

LAT, LON = 37.5665, 126.9780
DAY = datetime.now(UTC).date() + timedelta(days=1)


def near(north_m: float, east_m: float) -> dict[str, float]:
    return offset(LAT, LON, north_m, east_m)


def at(hour: float, day: date = DAY) -> str:
    t = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(hours=hour)
    return t.isoformat()


PROFILE = {
    "start": near(0, 0),
    "shift_start": "09:00",
    "shift_end": "17:00",
    "lunch": {"earliest": "12:00", "latest": "13:00", "minutes": 45},
    "mode": "car",
    "timezone": "UTC",
}


class Book:
    def __init__(self, tenant: Tenant) -> None:
        self.t = tenant
        self.customers: dict[str, str] = {}

    async def customer(self, key: str, north: float, east: float, **extra: Any) -> str:
        body = {
            "name": key,
            **near(north, east),
            "org_unit_id": str(self.t.units["T1"]),
            "assigned_agent_id": str(self.t.users["agent"]),
            **extra,
        }
        row = await self.t.post("admin", "/customers", body)
        self.customers[key] = row["id"]
        return str(row["id"])


@pytest_asyncio.fixture(scope="module")
async def book(tenant: Tenant) -> Book:
    b = Book(tenant)
    for k in range(4):
        await b.customer(f"appt{k}", 800 * k, 500)
    for k in range(12):
        await b.customer(f"prospect{k}", -600 * (k % 4), 700 * (k // 4), status="prospect")
    await b.customer("far", 0, 90_000, status="prospect")  # beyond the candidate radius
    await b.customer("never", 100, 100, status="prospect", do_not_visit=True)
    r = await tenant.client.put(
        f"/agents/{tenant.users['agent']}/profile", json=PROFILE, headers=tenant.h("manager")
    )
    assert r.status_code == 200, r.text
    return b


class TestProfile:
    async def test_round_trip_and_access(self, tenant: Tenant, book: Book) -> None:
        r = await tenant.client.get(
            f"/agents/{tenant.users['agent']}/profile", headers=tenant.h("agent")
        )
        assert r.status_code == 200
        assert r.json()["shift_end"] == "17:00:00"
        # agent2 sits in the other branch: not theirs to read, nor the manager of R1's to set.
        r = await tenant.client.get(
            f"/agents/{tenant.users['agent']}/profile", headers=tenant.h("agent2")
        )
        assert r.status_code == 422
        r = await tenant.client.put(
            f"/agents/{tenant.users['agent2']}/profile", json=PROFILE, headers=tenant.h("manager")
        )
        assert r.status_code == 422
        assert errors_for(r) == ["user_id"]

    @pytest.mark.parametrize(
        ("patch", "field"),
        [
            ({"shift_end": "08:00"}, "shift_end"),
            # A start after the default end (18:00) with no end given: it was stored, then
            # every read of the profile was a 500 (found by schemathesis).
            ({"shift_start": "22:48", "shift_end": None}, "shift_end"),
            ({"timezone": "Mars/Olympus"}, "timezone"),
            ({"lunch": {"earliest": "13:00", "latest": "12:00"}}, "lunch"),
            ({"start": {"lat": 91, "lon": 0}}, "start.lat"),
        ],
    )
    async def test_bad_profile(self, tenant: Tenant, patch: dict[str, Any], field: str) -> None:
        r = await tenant.client.put(
            f"/agents/{tenant.users['agent']}/profile",
            json={k: v for k, v in {**PROFILE, **patch}.items() if v is not None},
            headers=tenant.h("admin"),
        )
        assert r.status_code == 400 or r.status_code == 422, r.text
        assert any(field in (f or "") for f in errors_for(r)), r.text


class TestCreatePlan:
    async def test_plan_with_appointments_and_automatic_prospects(
        self, tenant: Tenant, book: Book
    ) -> None:
        c = book.customers
        body = {
            "agent_id": str(tenant.users["agent"]),
            "date": DAY.isoformat(),
            "appointments": [
                {"customer_id": c["appt0"], "start": at(10), "service_min": 45},
                {"customer_id": c["appt1"], "start": at(14), "service_min": 45},
            ],
            "time_limit_s": 0.5,
        }
        plan = await tenant.post("agent", "/plans", body)
        stops = plan["stops"]
        kinds = {s["customer_id"]: s["kind"] for s in stops}
        assert kinds[c["appt0"]] == "appointment"
        assert kinds[c["appt1"]] == "appointment"
        starts = {s["customer_id"]: s["start_at"] for s in stops}
        assert datetime.fromisoformat(starts[c["appt0"]]) == datetime.fromisoformat(at(10))
        assert any(s["kind"] == "optional" for s in stops)
        chosen = set(kinds) | {d["customer_id"] for d in plan["dropped"]}
        assert c["far"] not in chosen
        assert c["never"] not in chosen
        assert plan["route"]["type"] == "LineString"
        assert len(plan["route"]["coordinates"]) == len(stops) + 2
        assert plan["route"]["coordinates"][0] == pytest.approx([LON, LAT], abs=1e-6)
        assert plan["lunch"] is not None
        assert [s["seq"] for s in stops] == list(range(1, len(stops) + 1))
        for a, b in itertools.pairwise(stops):
            assert a["departure_at"] <= b["arrival_at"]
        got = await tenant.client.get(f"/plans/{plan['id']}", headers=tenant.h("manager"))
        assert got.status_code == 200
        assert got.json()["stops"] == stops
        # Another branch's agent and other tenants do not see it.
        r = await tenant.client.get(f"/plans/{plan['id']}", headers=tenant.h("agent2"))
        assert r.status_code == 404

    async def test_lunch_gives_way_to_appointments_and_the_plan_says_so(
        self, tenant: Tenant, book: Book
    ) -> None:
        # The profile's lunch: 45 minutes starting 12:00-13:00. Appointments 11:45-12:30 and
        # from 12:55 leave about 20 minutes inside that window.
        c = book.customers
        body = {
            "agent_id": str(tenant.users["agent"]),
            "date": DAY.isoformat(),
            "appointments": [
                {"customer_id": c["appt2"], "start": at(11.75), "service_min": 45},
                {"customer_id": c["appt3"], "start": at(12 + 55 / 60), "service_min": 30},
            ],
            "prospects": [],
            "time_limit_s": 0.5,
        }
        plan = await tenant.post("agent", "/plans", body)
        assert plan["dropped"] == []
        assert {s["customer_id"] for s in plan["stops"]} == {c["appt2"], c["appt3"]}
        lunch = plan["lunch"]
        length = datetime.fromisoformat(lunch["end"]) - datetime.fromisoformat(lunch["start"])
        assert timedelta(minutes=15) <= length < timedelta(minutes=45)
        assert plan["lunch_note"].startswith("lunch shortened to ")
        got = await tenant.client.get(f"/plans/{plan['id']}", headers=tenant.h("manager"))
        assert got.json()["lunch_note"] == plan["lunch_note"]

    async def test_over_full_day_is_a_plan_with_reasons(self, tenant: Tenant, book: Book) -> None:
        c = book.customers
        body = {
            "agent_id": str(tenant.users["agent"]),
            "date": DAY.isoformat(),
            "appointments": [
                {"customer_id": c["appt0"], "start": at(10), "service_min": 120},
                {"customer_id": c["appt1"], "start": at(10.5), "service_min": 60},
                {"customer_id": c["appt2"], "start": at(18), "service_min": 30},
            ],
            "prospects": [],
            "time_limit_s": 0.3,
        }
        plan = await tenant.post("manager", "/plans", body)
        reasons = {d["customer_id"]: d["reason"] for d in plan["dropped"]}
        assert reasons[c["appt1"]] == "conflicts_with_appointment"
        assert reasons[c["appt2"]] == "unreachable_in_window"
        assert [s["customer_id"] for s in plan["stops"]] == [c["appt0"]]
        listed = await tenant.client.get(
            "/plans",
            params={"agent_id": str(tenant.users["agent"]), "plan_date": DAY.isoformat()},
            headers=tenant.h("agent"),
        )
        assert [p["id"] for p in listed.json()] == [plan["id"]]  # the newest is the active one

    @staticmethod
    def bad_bodies(c: dict[str, str], agent2: str) -> list[tuple[dict[str, Any], str]]:
        return [
            ({"date": "2020-01-01"}, "date"),
            (
                {"appointments": [{"customer_id": str(uuid.uuid4()), "start": at(10)}]},
                "appointments[0].customer_id",
            ),
            (
                {"appointments": [{"customer_id": c["appt0"], "start": at(11), "end": at(10)}]},
                "appointments.0.end",
            ),
            (
                {"must_visit": [{"customer_id": c["appt0"], "service_min": 900}]},
                "must_visit.0.service_min",
            ),
            (
                {"must_visit": [{"customer_id": c["appt0"]}, {"customer_id": c["appt0"]}]},
                "must_visit[1].customer_id",
            ),
            ({"agent_id": agent2}, "agent_id"),
            (
                {
                    "profile": {**PROFILE, "shift_end": "10:00", "lunch": None},
                    "must_visit": [{"customer_id": c["appt0"], "service_min": 120}],
                },
                "stops[0].service_s",
            ),
            ({"profile": {**PROFILE, "timezone": "Nowhere/Else"}}, "profile.timezone"),
        ]

    async def test_bad_input_names_the_field(self, tenant: Tenant, book: Book) -> None:
        for patch, field in self.bad_bodies(book.customers, str(tenant.users["agent2"])):
            body: dict[str, Any] = {
                "agent_id": str(tenant.users["agent"]),
                "date": DAY.isoformat(),
                "prospects": [],
                "time_limit_s": 0.2,
                **patch,
            }
            r = await tenant.client.post("/plans", json=body, headers=tenant.h("manager"))
            assert r.status_code == 422, r.text
            assert field in errors_for(r), (field, r.text)

    async def test_store_apps_and_other_tenants_are_kept_out(
        self, tenant: Tenant, other_tenant: Tenant, book: Book
    ) -> None:
        body = {"agent_id": str(tenant.users["agent"]), "date": DAY.isoformat(), "prospects": []}
        r = await tenant.client.post("/plans", json=body, headers=other_tenant.h("admin"))
        assert r.status_code == 422
        assert errors_for(r) == ["agent_id"]
        r = await tenant.client.post("/plans", json=body)
        assert r.status_code == 401
        store = await tenant.post(
            "manager",
            "/places",
            {"kind": "store", "name": "Shop", **near(0, 0), "org_unit_id": str(tenant.units["B1"])},
        )
        app = await tenant.post(
            "manager", "/store-apps", {"name": "POS", "store_ids": [store["id"]]}
        )
        key = {"X-API-Key": app["api_key"]}
        assert (await tenant.client.post("/plans", json=body, headers=key)).status_code == 403
        assert (await tenant.client.get("/plans", headers=key)).status_code == 403
        team = {"org_unit_id": str(tenant.units["B1"]), "date": DAY.isoformat()}
        assert (await tenant.client.post("/team-plans", json=team, headers=key)).status_code == 403


class TestReplan:
    async def test_cancellation_replans_from_here_and_now_keeping_what_is_done(
        self, tenant: Tenant, book: Book
    ) -> None:
        c = book.customers
        prospects = [
            {"customer_id": c[f"prospect{k}"], "score": 50 + k, "service_min": 20} for k in range(8)
        ]
        body = {
            "agent_id": str(tenant.users["agent"]),
            "date": DAY.isoformat(),
            "appointments": [{"customer_id": c["appt3"], "start": at(15), "service_min": 30}],
            "prospects": prospects,
            "time_limit_s": 0.5,
        }
        plan = await tenant.post("agent", "/plans", body)
        order = [s["customer_id"] for s in plan["stops"]]
        assert len(order) >= 4
        done, cancelled = order[0], next(x for x in order[1:] if x != c["appt3"])
        # The first visit is detected (a manual check-in): the plan shows it fulfilled.
        first = plan["stops"][0]
        visit = await tenant.post(
            "agent",
            "/visits",
            {"customer_id": done, **near(0, 0), "accuracy_m": 10, "at": first["start_at"]},
        )
        got = (await tenant.client.get(f"/plans/{plan['id']}", headers=tenant.h("agent"))).json()
        assert got["stops"][0]["status"] == "fulfilled"
        assert got["stops"][0]["visit_id"] == visit["id"]

        here = near(2000, 2000)
        now = datetime.fromisoformat(first["departure_at"]) + timedelta(minutes=30)
        new = await tenant.post(
            "agent",
            f"/plans/{plan['id']}/replan",
            {"position": here, "at": now.isoformat(), "cancelled": [cancelled]},
        )
        assert new["revision"] == plan["revision"] + 1
        ids = [s["customer_id"] for s in new["stops"]]
        assert ids[0] == done and new["stops"][0]["status"] == "fulfilled"
        assert cancelled not in ids
        assert ids.count(done) == 1
        rest = new["stops"][1:]
        assert all(datetime.fromisoformat(s["start_at"]) >= now for s in rest)
        assert new["route"]["coordinates"][0] == pytest.approx([here["lon"], here["lat"]], abs=1e-6)
        appt = next(s for s in rest if s["customer_id"] == c["appt3"])
        assert datetime.fromisoformat(appt["start_at"]) == datetime.fromisoformat(at(15))
        old = (await tenant.client.get(f"/plans/{plan['id']}", headers=tenant.h("agent"))).json()
        assert old["status"] == "superseded"
        r = await tenant.client.post(
            f"/plans/{plan['id']}/replan", json={"position": here}, headers=tenant.h("agent")
        )
        assert r.status_code == 422
        assert errors_for(r) == ["plan_id"]

    async def test_urgent_visit_and_bad_references(self, tenant: Tenant, book: Book) -> None:
        c = book.customers
        body = {
            "agent_id": str(tenant.users["agent"]),
            "date": DAY.isoformat(),
            "prospects": [{"customer_id": c["prospect1"], "score": 10}],
            "time_limit_s": 0.3,
        }
        plan = await tenant.post("agent", "/plans", body)
        r = await tenant.client.post(
            f"/plans/{plan['id']}/replan",
            json={"position": near(0, 0), "at": at(11), "cancelled": [c["appt0"]]},
            headers=tenant.h("agent"),
        )
        assert r.status_code == 422
        assert errors_for(r) == ["cancelled[0]"]
        new = await tenant.post(
            "agent",
            f"/plans/{plan['id']}/replan",
            {
                "position": near(0, 0),
                "at": at(11),
                "urgent": [{"customer_id": c["appt2"], "service_min": 20}],
            },
        )
        assert c["appt2"] in {s["customer_id"] for s in new["stops"] if s["kind"] == "must"}
        r = await tenant.client.post(
            f"/plans/{new['id']}/replan",
            json={"position": near(0, 0), "at": at(20)},
            headers=tenant.h("agent"),
        )
        assert r.status_code == 422
        assert errors_for(r) == ["at"]

    async def test_agent_replans_a_day_a_manager_gave_them(
        self, tenant: Tenant, book: Book
    ) -> None:
        # An unassigned customer of the unit: the agent does not own it, the manager does.
        body = {"name": "walk-in", **near(300, 300), "org_unit_id": str(tenant.units["T1"])}
        walk_in = await tenant.post("admin", "/customers", body)
        plan = await tenant.post(
            "manager",
            "/plans",
            {
                "agent_id": str(tenant.users["agent"]),
                "date": DAY.isoformat(),
                "must_visit": [{"customer_id": walk_in["id"], "service_min": 20}],
                "prospects": [],
                "time_limit_s": 0.2,
            },
        )
        assert [s["customer_id"] for s in plan["stops"]] == [walk_in["id"]]
        new = await tenant.post(
            "agent", f"/plans/{plan['id']}/replan", {"position": near(0, 0), "at": at(10)}
        )
        assert [s["customer_id"] for s in new["stops"]] == [walk_in["id"]]


class TestTeamPlan:
    async def test_every_agent_of_the_unit_in_one_solve(
        self, tenant: Tenant, book: Book, client: AsyncTestClient[Litestar]
    ) -> None:
        # A second agent in T1, assigned two prospects of their own.
        peer = await tenant.post(
            "admin",
            "/users",
            {
                "email": f"peer@{tenant.slug}.test",
                "name": "peer",
                "role": "agent",
                "org_unit_id": str(tenant.units["T1"]),
                "password": "correct-horse-battery",
            },
        )
        await client.put(
            f"/agents/{peer['id']}/profile",
            json={**PROFILE, "start": near(-1000, 1000)},
            headers=tenant.h("admin"),
        )
        mine = [book.customers["prospect0"], book.customers["prospect5"]]
        for cid in mine:
            r = await client.patch(
                f"/customers/{cid}",
                json={"assigned_agent_id": peer["id"]},
                headers=tenant.h("admin"),
            )
            assert r.status_code == 200, r.text
        team = await tenant.post(
            "manager",
            "/team-plans",
            {"org_unit_id": str(tenant.units["B1"]), "date": DAY.isoformat(), "time_limit_s": 0.5},
        )
        by_agent = {p["agent_id"]: {s["customer_id"] for s in p["stops"]} for p in team["plans"]}
        assert set(by_agent) == {str(tenant.users["agent"]), peer["id"]}
        assert not set(mine) & by_agent[str(tenant.users["agent"])]
        assert not by_agent[str(tenant.users["agent"])] & by_agent[peer["id"]]
        assert all(p["team_id"] == team["team_id"] for p in team["plans"])
        r = await client.post(
            "/team-plans",
            json={"org_unit_id": str(tenant.units["B2"]), "date": DAY.isoformat()},
            headers=tenant.h("manager"),
        )
        assert r.status_code == 422
        assert errors_for(r) == ["org_unit_id"]


class TestNightlyJob:
    async def test_plans_tomorrow_once_for_agents_with_a_profile(
        self, tenant: Tenant, book: Book, engine: AsyncEngine
    ) -> None:
        evening = datetime.combine(DAY, datetime.min.time(), tzinfo=UTC).replace(hour=19)
        target = DAY + timedelta(days=1)
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            made = await plan_tomorrow(session, evening, plan_fulfilment())
        assert made >= 1
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            again = await plan_tomorrow(session, evening, plan_fulfilment())
        assert again == 0
        listed = await tenant.client.get(
            "/plans",
            params={"agent_id": str(tenant.users["agent"]), "plan_date": target.isoformat()},
            headers=tenant.h("agent"),
        )
        assert len(listed.json()) == 1
        assert listed.json()[0]["stops"]

    async def test_no_nightly_plan_on_a_day_off(
        self, tenant: Tenant, book: Book, engine: AsyncEngine
    ) -> None:
        day = DAY + timedelta(days=10)
        evening = datetime.combine(day, datetime.min.time(), tzinfo=UTC).replace(hour=19)
        target = day + timedelta(days=1)
        path = f"/agents/{tenant.users['agent']}/profile"
        off = [d for d in range(1, 8) if d != target.isoweekday()]
        r = await tenant.client.put(
            path, json={**PROFILE, "workdays": off}, headers=tenant.h("manager")
        )
        assert r.status_code == 200 and r.json()["workdays"] == off
        params = {"agent_id": str(tenant.users["agent"]), "plan_date": target.isoformat()}
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            await plan_tomorrow(session, evening, plan_fulfilment())
        listed = await tenant.client.get("/plans", params=params, headers=tenant.h("agent"))
        assert listed.json() == []
        # A working day again: tonight's run plans it.
        r = await tenant.client.put(path, json=PROFILE, headers=tenant.h("manager"))
        assert r.status_code == 200 and r.json()["workdays"] == [1, 2, 3, 4, 5, 6, 7]
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            await plan_tomorrow(session, evening, plan_fulfilment())
        listed = await tenant.client.get("/plans", params=params, headers=tenant.h("agent"))
        assert len(listed.json()) == 1
        bad = await tenant.client.put(
            path, json={**PROFILE, "workdays": [0, 3]}, headers=tenant.h("manager")
        )
        assert bad.status_code == 422 and errors_for(bad) == ["workdays"]

    async def test_chuseok_is_not_planned(
        self, tenant: Tenant, book: Book, engine: AsyncEngine
    ) -> None:
        """A Seoul agent of a tenant whose holidays are Korea's: no nightly plan for Chuseok
        (15 September 2027, a Wednesday), one for the Friday after."""
        seoul = ZoneInfo("Asia/Seoul")
        path = f"/agents/{tenant.users['agent']}/profile"
        settings = "/tenant/settings"
        h = tenant.h("admin")
        assert (
            await tenant.client.patch(settings, json={"holiday_country": "KR"}, headers=h)
        ).status_code == 200
        r = await tenant.client.put(
            path, json={**PROFILE, "timezone": "Asia/Seoul"}, headers=tenant.h("manager")
        )
        assert r.status_code == 200
        try:
            for eve, planned in ((date(2027, 9, 14), False), (date(2027, 9, 16), True)):
                evening = datetime.combine(eve, datetime.min.time(), tzinfo=seoul).replace(hour=19)
                async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
                    await plan_tomorrow(session, evening.astimezone(UTC), plan_fulfilment())
                target = (eve + timedelta(days=1)).isoformat()
                params = {"agent_id": str(tenant.users["agent"]), "plan_date": target}
                listed = await tenant.client.get("/plans", params=params, headers=tenant.h("agent"))
                assert len(listed.json()) == (1 if planned else 0), target
        finally:
            back = await tenant.client.patch(settings, json={"holiday_country": None}, headers=h)
            assert back.status_code == 200 and back.json()["holiday_country"] is None
            await tenant.client.put(path, json=PROFILE, headers=tenant.h("manager"))

    async def test_no_nightly_plan_in_the_agents_time_off(
        self, tenant: Tenant, book: Book, engine: AsyncEngine
    ) -> None:
        day = DAY + timedelta(days=12)
        evening = datetime.combine(day, datetime.min.time(), tzinfo=UTC).replace(hour=19)
        target = day + timedelta(days=1)
        path = f"/agents/{tenant.users['agent']}/profile"
        leave = {"first": (target - timedelta(days=1)).isoformat(),
                 "last": (target + timedelta(days=2)).isoformat(), "reason": "annual leave"}  # fmt: skip
        r = await tenant.client.put(
            path, json={**PROFILE, "time_off": [leave]}, headers=tenant.h("manager")
        )
        assert r.status_code == 200 and r.json()["time_off"] == [leave]
        params = {"agent_id": str(tenant.users["agent"]), "plan_date": target.isoformat()}
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            await plan_tomorrow(session, evening, plan_fulfilment())
        listed = await tenant.client.get("/plans", params=params, headers=tenant.h("agent"))
        assert listed.json() == []
        backwards = {"first": leave["last"], "last": leave["first"]}
        bad = await tenant.client.put(
            path, json={**PROFILE, "time_off": [backwards]}, headers=tenant.h("manager")
        )
        assert bad.status_code == 422 and errors_for(bad) == ["time_off.0.last"]
        r = await tenant.client.put(path, json=PROFILE, headers=tenant.h("manager"))
        assert r.status_code == 200


class TestFulfilmentJob:
    async def test_job_marks_stops_fulfilled_by_visits(
        self, tenant: Tenant, book: Book, engine: AsyncEngine
    ) -> None:
        c = book.customers
        body = {
            "agent_id": str(tenant.users["agent"]),
            "date": DAY.isoformat(),
            "must_visit": [{"customer_id": c["prospect7"], "service_min": 20}],
            "prospects": [],
            "time_limit_s": 0.2,
        }
        plan = await tenant.post("manager", "/plans", body)
        stop = plan["stops"][0]
        # The job works across tenants: what other tests left under way then is done first.
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            await fulfil_plan_stops(
                session, datetime.fromisoformat(stop["start_at"]), plan_fulfilment()
            )
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            assert (
                await fulfil_plan_stops(
                    session, datetime.fromisoformat(stop["start_at"]), plan_fulfilment()
                )
                == 0
            )
        await tenant.post(
            "agent",
            "/visits",
            {"customer_id": c["prospect7"], **near(0, 0), "accuracy_m": 15, "at": stop["start_at"]},
        )
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            assert (
                await fulfil_plan_stops(
                    session, datetime.fromisoformat(stop["start_at"]), plan_fulfilment()
                )
                == 1
            )
