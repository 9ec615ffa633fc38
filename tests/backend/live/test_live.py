"""Live streams (backend/live/) over real HTTP: a manager's stream carries their subtree and
nothing of another branch; a reconnect with `Last-Event-ID` resumes with every event in
order; an agent's app hears of its coaching notes; the feed is numbered in commit order. The
events are made through the test client's app and streamed by another (`live_server`):
they reach the stream through PostgreSQL (`NOTIFY`), as they would across API processes."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from backend.live.feed import forget_live_events
from backend.live.hub import LiveHub
from simulators.sse import Event, events, headers
from tests.backend.world import Tenant, errors_for, ok
from tests.conftest import fresh_database_with_tenant

LAT, LON = 37.5665, 126.978


class Stream:
    """One open stream, read in the background into `got`."""

    def __init__(self, resp: httpx.Response) -> None:
        self.resp = resp
        self.got: list[Event] = []
        self._more = asyncio.Event()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for e in events(self.resp):
            self.got.append(e)
            self._more.set()

    async def until(self, enough: Callable[[list[Event]], bool], within_s: float = 10) -> None:
        async with asyncio.timeout(within_s):
            while not enough(self.got):
                self._more.clear()
                await self._more.wait()

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e.json() for e in self.got if e.event == kind]

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self.resp.aclose()


@contextlib.asynccontextmanager
async def stream(
    base: str, path: str, token: str, last_event_id: str | None = None
) -> AsyncIterator[Stream]:
    async with httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(30, read=None)) as http:
        req = http.build_request("GET", path, headers=headers(token, last_event_id))
        resp = await http.send(req, stream=True)
        assert resp.status_code == 200, (await resp.aread()).decode()
        assert resp.headers["content-type"].startswith("text/event-stream")
        s = Stream(resp)
        try:
            yield s
        finally:
            await s.close()


async def _device(t: Tenant, who: str) -> str:
    return str((await t.device(who))["id"])


async def _ping(
    client: AsyncTestClient[Litestar], t: Tenant, who: str, device: str, north_m: float = 0
) -> None:
    fix = {
        "client_id": str(uuid.uuid4()),
        "time": datetime.now(UTC).isoformat(),
        "lat": LAT + north_m / 111_195,
        "lon": LON,
        "accuracy_m": 8,
    }
    r = await client.post(
        "/ingest/locations", json={"device_id": device, "points": [fix]}, headers=t.h(who)
    )
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 1


async def _check_in(client: AsyncTestClient[Litestar], t: Tenant, who: str, place: str) -> str:
    body = {"place_id": place, "lat": LAT, "lon": LON, "accuracy_m": 10}
    return str((await ok(await client.post("/visits", json=body, headers=t.h(who))))["id"])


async def test_a_managers_stream_sees_their_subtree_and_not_another_branch(
    client: AsyncTestClient[Litestar], tenant: Tenant, live_server: str
) -> None:
    t = tenant
    mine, theirs = await _device(t, "agent"), await _device(t, "agent2")
    place = (
        await t.post(
            "admin", "/places", {"kind": "workplace", "name": "HQ", "lat": LAT, "lon": LON}
        )
    )["id"]
    async with stream(live_server, f"/live/team/{t.units['R1']}", t.tokens["manager"]) as s:
        await _ping(client, t, "agent2", theirs)
        await _ping(client, t, "agent", mine, north_m=30)
        other_visit = await _check_in(client, t, "agent2", place)
        visit = await _check_in(client, t, "agent", place)
        await s.until(lambda got: any(e.event == "visit_started" for e in got))
        # The agent's manual actions are events too: the check-out with its outcome.
        out = await client.post(
            f"/visits/{visit}/check-out", json={"outcome": "met"}, headers=t.h("agent")
        )
        assert out.status_code == 200, out.text
        await s.until(lambda got: any(e.event == "visit_ended" for e in got))
        assert [v["data"]["outcome"] for v in s.of("visit_ended")] == ["met"]
        positions = s.of("position")
        assert [p["device_id"] for p in positions] == [mine]
        assert positions[0]["agent_id"] == str(t.users["agent"])
        assert abs(positions[0]["data"]["lat"] - (LAT + 30 / 111_195)) < 1e-9
        started = s.of("visit_started")
        assert [v["data"]["visit_id"] for v in started] == [visit]
        assert other_visit not in str([e.data for e in s.got])
        ids = [int(e.id or 0) for e in s.got]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)


async def test_a_dropped_connection_resumes_with_every_event_in_order(
    client: AsyncTestClient[Litestar], tenant: Tenant, live_server: str
) -> None:
    t = tenant
    device = await _device(t, "agent")
    token = t.tokens["manager"]
    path = f"/live/team/{t.units['T1']}"
    async with stream(live_server, path, token) as s:
        for i in range(3):
            await _ping(client, t, "agent", device, north_m=i)
        await s.until(lambda got: len([e for e in got if e.event == "position"]) == 3)
        last = s.got[-1].id
    assert last is not None
    # While the manager is away: five more positions and a note.
    for i in range(3, 8):
        await _ping(client, t, "agent", device, north_m=i)
    note = await t.post(
        "manager",
        "/coaching-notes",
        {"agent_id": str(t.users["agent"]), "day": datetime.now(UTC).date().isoformat(),
         "body": "Good pace today."},
    )  # fmt: skip
    await _ping(client, t, "agent", device, north_m=8)
    async with stream(live_server, path, token, last_event_id=last) as s:
        await s.until(lambda got: len([e for e in got if e.event == "position"]) == 6)
        kinds = [e.event for e in s.got]
        assert kinds == ["position"] * 5 + ["coaching_note", "position"]
        assert s.got[5].json()["data"]["note_id"] == note["id"]
        lats = [p["data"]["lat"] for p in s.of("position")]
        assert lats == sorted(lats) and len(lats) == 6
        ids = [int(e.id or 0) for e in s.got]
        assert ids[0] > int(last) and ids == sorted(ids)


async def test_an_agents_app_hears_of_its_notes_and_not_of_anothers(
    client: AsyncTestClient[Litestar], tenant: Tenant, live_server: str
) -> None:
    t = tenant
    day = datetime.now(UTC).date().isoformat()
    async with (
        stream(live_server, "/live/me", t.tokens["agent"]) as mine,
        stream(live_server, "/live/me", t.tokens["agent2"]) as theirs,
    ):
        note = await t.post(
            "manager", "/coaching-notes",
            {"agent_id": str(t.users["agent"]), "day": day, "body": "Call Mr Park first."},
        )  # fmt: skip
        await mine.until(lambda got: len(got) >= 1)
        told = mine.of("coaching_note")[0]
        assert told["data"]["note_id"] == note["id"]
        assert told["data"]["body"] == "Call Mr Park first."
        await asyncio.sleep(0.5)
        assert theirs.got == []


async def test_bad_requests_are_refused_with_reasons(
    client: AsyncTestClient[Litestar], tenant: Tenant, live_server: str
) -> None:
    t = tenant
    async with httpx.AsyncClient(base_url=live_server, timeout=10) as http:
        r = await http.get("/live/me", headers=headers(t.tokens["agent"], "not-a-number"))
        assert r.status_code == 422 and errors_for(r) == ["Last-Event-ID"]
        r = await http.get(f"/live/team/{t.units['T1']}", headers=headers(t.tokens["agent"]))
        assert r.status_code == 403
        r = await http.get(f"/live/team/{t.units['T2']}", headers=headers(t.tokens["manager"]))
        assert r.status_code == 404 and errors_for(r) == ["org_unit_id"]
        r = await http.get("/live/me", headers=headers(t.tokens["manager"]))
        assert r.status_code == 403
        r = await http.get("/live/me")
        assert r.status_code == 401
    # One stream more than a caller may hold: 429 with Retry-After.
    async with contextlib.AsyncExitStack() as held:
        for _ in range(4):
            await held.enter_async_context(stream(live_server, "/live/me", t.tokens["agent"]))
        async with httpx.AsyncClient(base_url=live_server, timeout=10) as http:
            r = await http.get("/live/me", headers=headers(t.tokens["agent"]))
            assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    # Closed, the slots are free again.
    async with stream(live_server, "/live/me", t.tokens["agent"]):
        pass


async def test_a_reconnect_after_what_the_feed_keeps_is_told_to_start_again(
    client: AsyncTestClient[Litestar], tenant: Tenant, live_server: str, engine: AsyncEngine
) -> None:
    t = tenant
    device = await _device(t, "agent")
    await _ping(client, t, "agent", device)
    async with engine.begin() as conn:
        # Everything so far is two days old, and forgotten.
        await conn.execute(
            text("UPDATE live_events SET at = now() - interval '2 days' WHERE tenant_id = :t"),
            {"t": t.id},
        )
    async with engine.begin() as conn, AsyncSession(bind=conn) as session:
        assert await forget_live_events(session, datetime.now(UTC)) >= 1
    await _ping(client, t, "agent", device, north_m=5)
    path = f"/live/team/{t.units['T1']}"
    async with stream(live_server, path, t.tokens["manager"], last_event_id="1") as s:
        await s.until(lambda got: len(got) >= 2)
        assert s.got[0].event == "reset"
        assert [e.event for e in s.got[1:]] == ["position"]
        assert s.got[1].json()["data"]["lat"] == LAT + 5 / 111_195


async def test_the_feed_is_numbered_as_it_becomes_visible_without_gaps(
    tenant: Tenant, engine: AsyncEngine
) -> None:
    """The first to insert commits last: it is numbered after the other, which was numbered
    (by the hubs' numberer) while the first was still open. A rolled-back transaction takes no
    number; no writer waits for another."""
    t = tenant
    insert = text(
        "INSERT INTO live_events (tenant_id, kind, data) VALUES (:t, 'coaching_note', :d)"
    )
    seq_of = text("SELECT seq FROM live_events WHERE tenant_id = :t AND data->>'n' = :n")

    async def numbered(n: str) -> int:
        async with asyncio.timeout(10):
            while True:
                async with engine.connect() as c:
                    v = await c.scalar(seq_of, {"t": t.id, "n": n})
                if v is not None:
                    return int(v)
                await asyncio.sleep(0.02)

    async with engine.connect() as c:
        before = int(
            await c.scalar(
                text("SELECT coalesce(max(seq), 0) FROM live_events WHERE tenant_id = :t"),
                {"t": t.id},
            )
            or 0
        )
    async with engine.connect() as first, engine.connect() as second:
        await first.begin()
        await first.execute(insert, {"t": t.id, "d": '{"n": "first"}'})
        await second.begin()
        await second.execute(insert, {"t": t.id, "d": '{"n": "second"}'})
        await second.commit()
        assert await numbered("second") == before + 1
        async with engine.connect() as rolled:
            await rolled.begin()
            await rolled.execute(insert, {"t": t.id, "d": '{"n": "rolled back"}'})
            await rolled.rollback()
        await first.commit()
        assert await numbered("first") == before + 2
    async with engine.connect() as c:
        head = await c.scalar(text("SELECT seq FROM live_heads WHERE tenant_id = :t"), {"t": t.id})
    assert head == before + 2


async def test_a_phone_with_its_own_credential_hears_its_plan_replanned_with_an_urgent_visit(
    client: AsyncTestClient[Litestar], tenant: Tenant, live_server: str
) -> None:
    """The agent's app, enrolled by a code (no password), follows /live/me: the day's plan,
    then the manager's re-plan with an urgent visit, arrive as `plan_changed`."""
    t = tenant
    device = await _device(t, "agent")
    code = (await t.post("manager", f"/devices/{device}/enrollment", {}))["code"]
    enrolled = await ok(
        await client.post("/auth/device/enroll", json={"tenant": t.slug, "code": code}), 200
    )
    day = (datetime.now(UTC) + timedelta(days=1)).date()
    profile = {"start": {"lat": LAT, "lon": LON}, "shift_start": "09:00", "shift_end": "17:00",
               "mode": "car", "timezone": "UTC"}  # fmt: skip
    r = await client.put(
        f"/agents/{t.users['agent']}/profile", json=profile, headers=t.h("manager")
    )
    assert r.status_code == 200, r.text
    customers = []
    for k in (1, 2):
        body = {"name": f"c{k}", "lat": LAT + 0.01 * k, "lon": LON,
                "org_unit_id": str(t.units["T1"]), "assigned_agent_id": str(t.users["agent"])}  # fmt: skip
        customers.append((await t.post("admin", "/customers", body))["id"])
    ten = datetime(day.year, day.month, day.day, 10, tzinfo=UTC)
    async with stream(live_server, "/live/me", enrolled["access_token"]) as s:
        plan = await t.post(
            "manager",
            "/plans",
            {"agent_id": str(t.users["agent"]), "date": day.isoformat(), "time_limit_s": 0.2,
             "appointments": [{"customer_id": customers[0], "start": ten.isoformat(),
                               "service_min": 30}]},
        )  # fmt: skip
        await s.until(lambda got: len(got) >= 1)
        replanned = await t.post(
            "manager",
            f"/plans/{plan['id']}/replan",
            {"position": {"lat": LAT, "lon": LON}, "at": (ten - timedelta(hours=1)).isoformat(),
             "urgent": [{"customer_id": customers[1], "service_min": 20}]},
        )  # fmt: skip
        await s.until(lambda got: len(got) >= 2)
        told = s.of("plan_changed")
        assert [(p["data"]["plan_id"], p["data"]["reason"]) for p in told] == [
            (plan["id"], "planned"),
            (replanned["id"], "replanned"),
        ]
        assert told[1]["data"]["urgent"] == [customers[1]]
        assert told[1]["data"]["revision"] == 2


async def test_one_process_numbers_and_another_takes_over_when_it_goes(db_url: str) -> None:
    """Two hubs (two API processes) on a database of their own: one leads the numbering;
    stopped, the other takes over and numbers what comes next."""
    url = await fresh_database_with_tenant(db_url, "lead")
    engines = [create_async_engine(url), create_async_engine(url)]
    hubs = [LiveHub(e) for e in engines]
    try:
        for h in hubs:
            await h.start()

        async def leaders() -> list[LiveHub]:
            async with asyncio.timeout(10):
                while not any(h.leading for h in hubs):  # noqa: ASYNC110 - a flag of the hubs
                    await asyncio.sleep(0.05)
            return [h for h in hubs if h.leading]

        first = await leaders()
        assert len(first) == 1
        await first[0].stop()
        hubs.remove(first[0])
        async with engines[0].begin() as conn:
            tenant = await conn.scalar(text("SELECT id FROM tenants LIMIT 1"))
            await conn.execute(
                text(
                    "INSERT INTO live_events (tenant_id, kind, data) VALUES (:t, 'plan_changed', '{}')"
                ),
                {"t": tenant},
            )
        assert await leaders() == hubs  # the other, within a second or two
        async with asyncio.timeout(10):
            while True:
                async with engines[0].connect() as conn:
                    seq = await conn.scalar(text("SELECT max(seq) FROM live_events"))
                if seq == 1:
                    break
                await asyncio.sleep(0.05)
    finally:
        for h in hubs:
            await h.stop()
        for e in engines:
            await e.dispose()
