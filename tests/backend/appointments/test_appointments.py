"""Appointments as records (backend/appointments/): who may book and see them, the one an
`appointment_set` outcome agrees, tonight's plan keeping it (and not a cancelled one), the
iCalendar feed read by a standard parser in Seoul time, and calendar files imported."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import icalendar
import pytest_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from backend.appointments.keeping import keep_appointments
from backend.plans.jobs import plan_tomorrow
from backend.tracking.queries import plan_fulfilment, visits
from tests.backend.world import Tenant, errors_for, ok

SEOUL = ZoneInfo("Asia/Seoul")
LAT, LON = 37.5665, 126.978
# Far enough ahead that no other test plans these days.
EVENING = (datetime.now(SEOUL) + timedelta(days=40)).replace(hour=19, minute=0, second=0,
                                                               microsecond=0)  # fmt: skip
DAY = (EVENING + timedelta(days=1)).date()


def kst(hour: int, minute: int = 0) -> datetime:
    return datetime(DAY.year, DAY.month, DAY.day, hour, minute, tzinfo=SEOUL)


@pytest_asyncio.fixture(scope="module")
async def customers(tenant: Tenant) -> dict[str, str]:
    out = {}
    for k, (north, who) in enumerate([(0.01, "agent"), (0.02, "agent"), (0.03, "agent2")]):
        unit = "T1" if who == "agent" else "T2"
        body = {"name": f"customer {k}", "lat": LAT + north, "lon": LON, "external_id": f"ext-{k}",
                "org_unit_id": str(tenant.units[unit]), "assigned_agent_id": str(tenant.users[who])}  # fmt: skip
        out[f"c{k}"] = (await tenant.post("admin", "/customers", body))["id"]
    profile = {"start": {"lat": LAT, "lon": LON}, "shift_start": "09:00", "shift_end": "18:00",
               "mode": "car", "timezone": "Asia/Seoul"}  # fmt: skip
    r = await tenant.client.put(
        f"/agents/{tenant.users['agent']}/profile", json=profile, headers=tenant.h("manager")
    )
    assert r.status_code == 200, r.text
    return out


async def test_agents_book_their_own_and_managers_their_subtrees(
    client: AsyncTestClient[Litestar], tenant: Tenant, customers: dict[str, str]
) -> None:
    t = tenant
    body = {"customer_id": customers["c0"], "start": kst(10).isoformat(), "duration_min": 45}
    mine = await t.post("agent", "/appointments", body)
    assert mine["agent_id"] == str(t.users["agent"]) and mine["latest_start"] == mine["start"]
    assert mine["status"] == "planned" and mine["source"] == "api"
    # Ending before it starts, another agent's customer, nobody's: 422 naming the field.
    bad = {**body, "latest_start": kst(9).isoformat()}
    r = await client.post("/appointments", json=bad, headers=t.h("agent"))
    assert r.status_code == 422 and errors_for(r) == ["latest_start"]
    r = await client.post(
        "/appointments", json={**body, "customer_id": customers["c2"]}, headers=t.h("agent")
    )
    assert r.status_code == 422 and errors_for(r) == ["customer_id"]
    r = await client.post("/appointments", json=body, headers=t.h("manager"))
    assert r.status_code == 422 and errors_for(r) == ["agent_id"]
    # The manager of R1 sees it; the other branch's agent does not.
    listed = await client.get(
        "/appointments", params={"agent_id": str(t.users["agent"])}, headers=t.h("manager")
    )
    assert mine["id"] in [a["id"] for a in listed.json()["items"]]
    r = await client.get(f"/appointments/{mine['id']}", headers=t.h("agent2"))
    assert r.status_code == 404
    r = await client.delete(f"/appointments/{mine['id']}", headers=t.h("agent"))
    assert r.status_code == 204


async def test_an_appointment_set_at_a_visit_is_in_tonights_plan_and_a_cancelled_one_is_not(
    client: AsyncTestClient[Litestar], tenant: Tenant, customers: dict[str, str],
    engine: AsyncEngine,
) -> None:  # fmt: skip
    t = tenant
    visit = await t.post(
        "agent", "/visits",
        {"customer_id": customers["c0"], "lat": LAT + 0.01, "lon": LON, "accuracy_m": 10},
    )  # fmt: skip
    # An appointment without the outcome that agrees it is refused.
    r = await client.post(
        f"/visits/{visit['id']}/check-out",
        json={"outcome": "met", "appointment": {"start": kst(14).isoformat()}},
        headers=t.h("agent"),
    )
    assert r.status_code == 422 and errors_for(r) == ["appointment"]
    out = await client.post(
        f"/visits/{visit['id']}/check-out",
        json={"outcome": "appointment_set",
              "appointment": {"start": kst(14).isoformat(), "duration_min": 40}},
        headers=t.h("agent"),
    )  # fmt: skip
    assert out.status_code == 200, out.text
    agreed = (
        await client.get(
            "/appointments", params={"customer_id": customers["c0"]}, headers=t.h("agent")
        )
    ).json()["items"]
    set_here = [a for a in agreed if a["set_at_visit_id"] == visit["id"]]
    assert len(set_here) == 1 and set_here[0]["source"] == "outcome"
    # Another, cancelled before tonight.
    other = await t.post(
        "agent", "/appointments", {"customer_id": customers["c1"], "start": kst(11).isoformat()}
    )
    r = await client.patch(
        f"/appointments/{other['id']}", json={"status": "cancelled"}, headers=t.h("agent")
    )
    assert r.status_code == 200 and r.json()["status"] == "cancelled"

    for _ in range(20):  # the job plans 20 agents a firing, of every tenant
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            if await plan_tomorrow(session, EVENING.astimezone(UTC), plan_fulfilment()) == 0:
                break
    plans = await ok(
        await client.get(
            "/plans",
            params={"agent_id": str(t.users["agent"]), "plan_date": DAY.isoformat()},
            headers=t.h("agent"),
        ),
        200,
    )
    assert len(plans) == 1
    stops = {s["customer_id"]: s for s in plans[0]["stops"]}
    kept = stops[customers["c0"]]
    assert kept["kind"] == "appointment"
    assert datetime.fromisoformat(kept["start_at"]) == kst(14)
    # The cancelled one is no appointment of the plan (the customer may still be suggested).
    assert stops.get(customers["c1"], {}).get("kind") != "appointment"

    # The day is planned; then the first is cancelled and another booked: the next run plans
    # the day again, as the appointments now stand. Once current, it is left alone.
    r = await client.patch(
        f"/appointments/{set_here[0]['id']}", json={"status": "cancelled"}, headers=t.h("agent")
    )
    assert r.status_code == 200
    await t.post(
        "agent", "/appointments", {"customer_id": customers["c1"], "start": kst(15).isoformat()}
    )
    for _ in range(20):
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            if await plan_tomorrow(session, EVENING.astimezone(UTC), plan_fulfilment()) == 0:
                break
    [again] = await ok(
        await client.get(
            "/plans",
            params={"agent_id": str(t.users["agent"]), "plan_date": DAY.isoformat()},
            headers=t.h("agent"),
        ),
        200,
    )
    assert again["id"] != plans[0]["id"]
    kinds = {s["customer_id"]: (s["kind"], s["start_at"]) for s in again["stops"]}
    assert kinds.get(customers["c0"], ("",))[0] != "appointment"
    assert kinds[customers["c1"]][0] == "appointment"
    assert datetime.fromisoformat(kinds[customers["c1"]][1]) == kst(15)


async def test_the_calendar_feed_opens_in_a_standard_parser_in_seoul_time(
    client: AsyncTestClient[Litestar], tenant: Tenant, customers: dict[str, str],
    live_server: str,
) -> None:  # fmt: skip
    t = tenant
    booked = await t.post(
        "agent", "/appointments",
        {"customer_id": customers["c1"], "start": kst(16, 30).isoformat(), "duration_min": 30,
         "status": "confirmed", "title": "Policy review"},
    )  # fmt: skip
    feed = await t.post("agent", "/appointments/feeds", {})
    path = feed["url"].split("/calendar/", 1)[1]
    async with httpx.AsyncClient(base_url=live_server, timeout=10) as http:
        r = await http.get(f"/calendar/{path}")  # a calendar app sends no credentials
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/calendar")
        cal = icalendar.Calendar.from_ical(r.content)
        events = {str(e["uid"]): e for e in cal.walk("VEVENT")}
        ev = events[f"appointment-{booked['id']}@fieldsense"]
        assert ev.decoded("dtstart").astimezone(SEOUL) == kst(16, 30)
        assert ev.decoded("dtend").astimezone(SEOUL) == kst(17)
        assert str(ev["summary"]) == "Policy review" and str(ev["status"]) == "CONFIRMED"
        assert str(cal["x-wr-timezone"]) == "Asia/Seoul"
        # Revoked, the address opens nothing; nor does a made-up one.
        r2 = await client.delete(f"/appointments/feeds/{feed['id']}", headers=t.h("agent"))
        assert r2.status_code == 204
        assert (await http.get(f"/calendar/{path}")).status_code == 404
        assert (await http.get("/calendar/fscal_nothing.ics")).status_code == 404


ICS = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//test//EN\r
BEGIN:VEVENT\r
UID:crm-1@example.com\r
DTSTART;TZID=Asia/Seoul:{d}T093000\r
DTEND;TZID=Asia/Seoul:{d}T101500\r
SUMMARY:First meeting\r
X-FIELDSENSE-CUSTOMER:ext-0\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:crm-2@example.com\r
DTSTART:{d}T170000\r
DURATION:PT20M\r
X-FIELDSENSE-CUSTOMER:{c1}\r
END:VEVENT\r
END:VCALENDAR\r
"""


async def test_a_calendar_file_imports_once_and_a_broken_one_names_its_line(
    client: AsyncTestClient[Litestar], tenant: Tenant, customers: dict[str, str]
) -> None:
    t = tenant
    text = ICS.format(d=DAY.strftime("%Y%m%d"), c1=customers["c1"])
    h = {**t.h("agent"), "content-type": "text/calendar"}
    params = {"timezone": "Asia/Seoul"}  # the floating 17:00 is Seoul's
    first = await client.post("/appointments/import", content=text, headers=h, params=params)
    assert first.status_code == 200, first.text
    assert first.json() == {"created": 2, "updated": 0}
    again = await client.post("/appointments/import", content=text, headers=h, params=params)
    assert again.json() == {"created": 0, "updated": 2}
    window = {"since": kst(0).isoformat(), "until": kst(23).isoformat()}
    got = await client.get("/appointments", params=window, headers=t.h("agent"))
    rows: list[dict[str, Any]] = got.json()["items"]
    imported = {datetime.fromisoformat(a["start"]): a for a in rows if a["source"] == "ical"}
    assert imported[kst(9, 30)]["duration_min"] == 45
    assert imported[kst(9, 30)]["title"] == "First meeting"
    assert imported[kst(17)]["duration_min"] == 20
    assert imported[kst(17)]["customer_id"] == customers["c1"]

    broken = text.replace("SUMMARY:First meeting", "SUMMARY First meeting", 1)
    r = await client.post("/appointments/import", content=broken, headers=h, params=params)
    assert r.status_code == 422 and errors_for(r) == ["body"]
    assert "line 8" in r.json()["detail"]
    # A value that is not its type: the event's line.
    broken = text.replace("DTEND;TZID=Asia/Seoul:", "DTEND;TZID=Asia/Seoul", 1)
    r = await client.post("/appointments/import", content=broken, headers=h, params=params)
    assert r.status_code == 422 and "line 4" in r.json()["detail"] and "DTEND" in r.json()["detail"]
    twice = text.replace("UID:crm-2@example.com", "UID:crm-1@example.com")
    r = await client.post("/appointments/import", content=twice, headers=h, params=params)
    assert r.status_code == 422 and "line 11" in r.json()["detail"]
    stranger = text.replace("ext-0", "ext-2")  # agent2's customer
    r = await client.post("/appointments/import", content=stranger, headers=h, params=params)
    assert r.status_code == 422 and "line 4" in r.json()["detail"]
    r = await client.post(
        "/appointments/import", content=text, headers=h, params={"timezone": "Mars/Olympus"}
    )
    assert r.status_code == 422 and errors_for(r) == ["timezone"]


async def test_a_visit_in_the_window_keeps_the_appointment(
    client: AsyncTestClient[Litestar], tenant: Tenant, customers: dict[str, str],
    engine: AsyncEngine,
) -> None:  # fmt: skip
    t = tenant
    now = datetime.now(UTC)
    due = await t.post(
        "agent", "/appointments",
        {"customer_id": customers["c1"], "start": (now - timedelta(minutes=20)).isoformat()},
    )  # fmt: skip
    earlier = await t.post(
        "agent", "/appointments",
        {"customer_id": customers["c1"], "start": (now - timedelta(hours=5)).isoformat()},
    )  # fmt: skip
    visit = await t.post(
        "agent", "/visits",
        {"customer_id": customers["c1"], "lat": LAT + 0.02, "lon": LON, "accuracy_m": 10},
    )  # fmt: skip
    async with AsyncSession(engine) as session, session.begin():
        assert await keep_appointments(session, datetime.now(UTC), visits()) >= 1
    got = await ok(await client.get(f"/appointments/{due['id']}", headers=t.h("agent")), 200)
    assert got["status"] == "done" and got["visit_id"] == visit["id"]
    missed = await ok(await client.get(f"/appointments/{earlier['id']}", headers=t.h("agent")), 200)
    assert missed["status"] == "planned" and missed["visit_id"] is None
