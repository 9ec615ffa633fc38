"""Week plans (backend/plans/week.py): a Seoul agent's week with a public holiday, customers
due by their own cadence or their segment's, an appointment kept on its day, a customer seen
on the weekday they prefer; the nightly plan keeping the week's day; bad input named."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from backend.plans.jobs import plan_tomorrow
from backend.tracking.queries import plan_fulfilment
from tests.backend.world import Tenant, errors_for

SEOUL = ZoneInfo("Asia/Seoul")
LAT, LON = 37.5665, 126.978


def holiday_week() -> tuple[date, date]:
    """The first Monday at least three weeks ahead whose week has a Korean public holiday
    on a weekday (Tuesday to Friday: Monday's plan is tested below), and that holiday."""
    today = datetime.now(SEOUL).date()
    monday = today + timedelta(days=21 - today.weekday())
    while True:
        kr = holidays.country_holidays("KR", years=monday.year)
        days = [monday + timedelta(days=k) for k in range(1, 5)]
        off = [d for d in days if d in kr]
        if len(off) == 1 and monday not in kr:
            return monday, off[0]
        monday += timedelta(days=7)


MONDAY, HOLIDAY = holiday_week()


@pytest_asyncio.fixture(scope="module")
async def week(tenant: Tenant) -> dict[str, str]:
    t = tenant
    r = await t.client.patch(
        "/tenant/settings",
        json={"holiday_country": "KR", "timezone": "Asia/Seoul",
              "cadences": {"retiree": {"every_days": 10}}},
        headers=t.h("admin"),
    )  # fmt: skip
    assert r.status_code == 200, r.text
    now = datetime.now(UTC)
    agent = str(t.users["agent"])
    working = [
        MONDAY + timedelta(days=k) for k in range(5) if MONDAY + timedelta(days=k) != HOLIDAY
    ]
    prefer = working[1]  # a working day that is not Monday
    # An interval that ends four weeks after the planned week, however far ahead it is.
    not_yet = (MONDAY + timedelta(days=6) - now.date()).days + 30
    people = {
        # Seen six weeks ago, every two weeks: overdue.
        "overdue": {"cadence": {"every_weeks": 2}, "last_contact_at": now - timedelta(days=42)},
        # Seen two days ago, due four weeks after the planned week: not due this week.
        "recent": {"cadence": {"every_days": not_yet}, "last_contact_at": now - timedelta(days=2)},
        # A prospect seen lately, not due this week either, but worth a gap.
        "later": {
            "cadence": {"every_days": not_yet},
            "last_contact_at": now - timedelta(days=3),
            "status": "prospect",
        },
        # Four visits a month, on the weekday they prefer.
        "prefers": {"cadence": {"per_month": 4, "weekdays": [prefer.weekday()]}},
        # No cadence of their own: their segment's (every 10 days), never seen.
        "segment": {"life_stage": "retiree"},
        # An appointment on the week's third working day.
        "booked": {"cadence": {"every_weeks": 1}},
        # Another appointment at the same hour: one of the two cannot be kept.
        "clash": {},
    }
    out: dict[str, str] = {}
    for k, (name, extra) in enumerate(people.items()):
        body = {"name": name, "lat": LAT + 0.01 * (k + 1), "lon": LON + 0.005 * k,
                "org_unit_id": str(t.units["T1"]), "assigned_agent_id": agent, "status": "customer",
                **{key: (v.isoformat() if isinstance(v, datetime) else v) for key, v in extra.items()}}  # fmt: skip
        out[name] = (await t.post("admin", "/customers", body))["id"]
    profile = {"start": {"lat": LAT, "lon": LON}, "shift_start": "09:00", "shift_end": "18:00",
               "lunch": {"earliest": "11:30", "latest": "13:30", "minutes": 60},
               "mode": "car", "timezone": "Asia/Seoul", "workdays": [1, 2, 3, 4, 5]}  # fmt: skip
    r = await t.client.put(f"/agents/{agent}/profile", json=profile, headers=t.h("manager"))
    assert r.status_code == 200, r.text
    at = datetime.combine(working[2], datetime.min.time(), SEOUL).replace(hour=10)
    await t.post(
        "agent",
        "/appointments",
        {"customer_id": out["booked"], "start": at.isoformat(), "duration_min": 45},
    )
    await t.post(
        "agent",
        "/appointments",
        {"customer_id": out["clash"], "start": at.isoformat(), "duration_min": 45},
    )
    out["prefer"] = prefer.isoformat()
    out["booked_day"] = working[2].isoformat()
    return out


async def test_a_week_keeps_appointments_cadences_and_holidays(
    client: AsyncTestClient[Litestar], tenant: Tenant, week: dict[str, str], session: AsyncSession
) -> None:
    t = tenant
    body = {"agent_id": str(t.users["agent"]), "week_start": MONDAY.isoformat(), "time_limit_s": 2}
    r = await client.post("/week-plans", json=body, headers=t.h("manager"))
    assert r.status_code == 201, r.text
    [plan] = r.json()["weeks"]
    days = {d["date"]: d for d in plan["days"]}
    assert len(days) == 7
    # The holiday and the weekend are off, and say why; the other four days have a plan.
    assert days[HOLIDAY.isoformat()]["plan"] is None
    assert "public holiday" in days[HOLIDAY.isoformat()]["off"]
    saturday = (MONDAY + timedelta(days=5)).isoformat()
    assert days[saturday]["plan"] is None and "not a working day" in days[saturday]["off"]
    planned = {d: [s["customer_id"] for s in v["plan"]["stops"]]
               for d, v in days.items() if v["plan"]}  # fmt: skip
    assert len(planned) == 4
    where = {c: d for d, cs in planned.items() for c in cs}
    # The appointment on its day, as an appointment.
    on_the_day = {s["customer_id"]: s["kind"] for s in days[week["booked_day"]]["plan"]["stops"]}
    pair = (week["booked"], week["clash"])
    kept = [c for c in pair if on_the_day.get(c) == "appointment"]
    assert len(kept) == 1, on_the_day
    [left] = plan["left_out"]
    assert left["customer_id"] in pair and left["customer_id"] not in kept
    assert left["reason"] == "conflicts_with_appointment" and left["kind"] == "appointment"
    # Due: the overdue one, the one with a weekday, the segment's; not the one seen lately
    # (the booked one has its appointment).
    assert plan["due"] == 3 and plan["due_planned"] == 3
    assert where[week["prefers"]] == week["prefer"]
    assert {week["overdue"], week["segment"]} <= set(where)
    kinds = {s["customer_id"]: s["kind"] for v in days.values() if v["plan"]
             for s in v["plan"]["stops"]}  # fmt: skip
    assert kinds.get(week["recent"]) != "must"
    # Not due this week, it may fill a gap as a prospect, and then its day re-plans as any.
    assert kinds[week["later"]] == "optional", kinds
    later_day = next(d for d, cs in planned.items() if week["later"] in cs)
    replan = {"position": {"lat": LAT, "lon": LON},
              "at": datetime.combine(date.fromisoformat(later_day), datetime.min.time(), SEOUL)
              .replace(hour=8).isoformat()}  # fmt: skip
    r = await client.post(
        f"/plans/{days[later_day]['plan']['id']}/replan", json=replan, headers=t.h("manager")
    )
    assert r.status_code == 201 and r.json()["revision"] == 2, r.text
    # The week reads back, and lists for its agent.
    r = await client.get(f"/week-plans/{plan['id']}", headers=t.h("agent"))
    assert r.status_code == 200 and r.json()["due_planned"] == 3
    r = await client.get(
        "/week-plans", params={"week_start": MONDAY.isoformat()}, headers=t.h("manager")
    )
    assert [w["id"] for w in r.json()] == [plan["id"]]
    # Another branch's agent does not see it.
    r = await client.get(f"/week-plans/{plan['id']}", headers=t.h("agent2"))
    assert r.status_code == 404
    # The nightly plan finds the week's Monday planned and keeps it.
    evening = datetime.combine(MONDAY - timedelta(days=1), datetime.min.time(), SEOUL)
    await plan_tomorrow(session, evening.replace(hour=19).astimezone(UTC), plan_fulfilment())
    await session.commit()
    r = await client.get(
        "/plans",
        params={"agent_id": str(t.users["agent"]), "plan_date": MONDAY.isoformat()},
        headers=t.h("manager"),
    )
    [monday_plan] = r.json()
    assert monday_plan["id"] == days[MONDAY.isoformat()]["plan"]["id"]
    # And the day of the two appointments, one left out: its stored appointments are those it
    # was made with, the one left out too, so the nightly job leaves it as it is.
    booked_day = date.fromisoformat(week["booked_day"])
    evening = datetime.combine(booked_day - timedelta(days=1), datetime.min.time(), SEOUL)
    await plan_tomorrow(session, evening.replace(hour=19).astimezone(UTC), plan_fulfilment())
    await session.commit()
    r = await client.get(
        "/plans",
        params={"agent_id": str(t.users["agent"]), "plan_date": week["booked_day"]},
        headers=t.h("manager"),
    )
    assert [p["id"] for p in r.json()] == [days[week["booked_day"]]["plan"]["id"]]
    # Planned again: the new week supersedes the old one.
    r = await client.post("/week-plans", json=body, headers=t.h("manager"))
    again = r.json()["weeks"][0]
    r = await client.get(
        "/week-plans", params={"week_start": MONDAY.isoformat()}, headers=t.h("manager")
    )
    assert [w["id"] for w in r.json()] == [again["id"]]


async def test_bad_week_input_is_named(
    client: AsyncTestClient[Litestar], tenant: Tenant, week: dict[str, str]
) -> None:
    t = tenant
    agent = str(t.users["agent"])
    tuesday = (MONDAY + timedelta(days=1)).isoformat()
    cases = [
        ({"agent_id": agent, "week_start": tuesday}, "manager", "week_start"),
        ({"week_start": MONDAY.isoformat()}, "manager", "agent_id"),
        ({"agent_id": agent, "week_start": "2020-01-06"}, "manager", "week_start"),
        ({"agent_id": agent, "week_start": MONDAY.isoformat()}, "agent2", "agent_id"),
        ({"org_unit_id": str(t.units["T2"]), "week_start": MONDAY.isoformat()}, "manager",
         "org_unit_id"),
    ]  # fmt: skip
    for body, who, field in cases:
        r = await client.post("/week-plans", json=body, headers=t.h(who))
        assert r.status_code == 422, (body, r.text)
        assert errors_for(r) == [field], (body, r.json())
    # A cadence with two rhythms, or hours without an end: 422 naming the cadence.
    for cadence in ({"every_days": 7, "per_month": 2}, {"every_days": 7, "start": "09:00"}):
        r = await client.patch(
            f"/customers/{week['recent']}", json={"cadence": cadence}, headers=t.h("admin")
        )
        assert r.status_code == 422 and errors_for(r)[0].startswith("cadence"), r.text
    r = await client.patch(
        "/tenant/settings", json={"cadences": {"gold": {"weekdays": [9]}}}, headers=t.h("admin")
    )
    assert r.status_code == 422 and errors_for(r)[0].startswith("cadences"), r.text
