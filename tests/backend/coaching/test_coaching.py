"""Coaching notes: threads, acknowledgement, visibility along the org path, and actions that
change the next plan."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.backend.world import PASSWORD, Tenant, errors_for, offset, ok

HOME = (37.5665, 126.9780)
PROFILE = {
    "start": {"lat": HOME[0], "lon": HOME[1]},
    "shift_start": "09:00",
    "shift_end": "17:00",
    "timezone": "Asia/Seoul",
}


async def customer(t: Tenant, name: str, north: float, east: float, **kw: Any) -> str:
    body = {
        "name": name,
        "status": "prospect",
        "assigned_agent_id": str(t.users["agent"]),
        **offset(HOME[0], HOME[1], north, east),
        **kw,
    }
    return str((await t.post("manager", "/customers", body))["id"])


async def plan(client: AsyncTestClient[Litestar], t: Tenant, day: date) -> dict[str, Any]:
    body = {
        "agent_id": str(t.users["agent"]),
        "date": day.isoformat(),
        "max_prospects": 3,
        "time_limit_s": 0.5,
    }
    data: dict[str, Any] = await ok(await client.post("/plans", json=body, headers=t.h("manager")))
    return data


def planned(p: dict[str, Any]) -> set[str]:
    return {s["customer_id"] for s in p["stops"] if s.get("customer_id")}


async def test_a_coaching_action_changes_the_next_plan(
    client: AsyncTestClient[Litestar], tenant: Tenant
) -> None:
    t = tenant
    r = await client.put(
        f"/agents/{t.users['agent']}/profile", json=PROFILE, headers=t.h("manager")
    )
    assert r.status_code == 200, r.text
    # Five never-contacted prospects nearby; "quiet" was contacted yesterday (a low score) and
    # "hotspot" is the best of all, but sits where the manager wants the agent to stop going.
    for k in range(5):
        await customer(t, f"p{k}", 400 * (k + 1), 300)
    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    quiet = await customer(t, "quiet", -500, -500, last_contact_at=yesterday)
    hotspot = await customer(t, "hotspot", 300, -300, value=100_000)
    day = datetime.now(UTC).date() + timedelta(days=2)

    before = await plan(client, t, day)
    assert quiet not in planned(before) and hotspot in planned(before)
    assert before["shaped_by"] == []

    note = await t.post(
        "manager",
        "/coaching-notes",
        {
            "agent_id": str(t.users["agent"]),
            "day": datetime.now(UTC).date().isoformat(),
            "body": "Call on Quiet again, and keep out of the hotspot block for now.",
            "actions": {
                "boost": {quiet: 60},
                "avoid": [{**offset(HOME[0], HOME[1], 300, -300), "radius_m": 150}],
            },
        },
    )
    assert note["applies_from"] == datetime.now(UTC).date().isoformat()

    after = await plan(client, t, day)
    assert quiet in planned(after), "the boosted customer is in the plan"
    assert hotspot not in planned(after), "the avoided area is not"
    assert after["shaped_by"] == [note["id"]]
    assert any(
        d["customer_id"] == hotspot and d["reason"] == "avoided_area" for d in after["dropped"]
    )
    # Outside the note's window the plan is as before.
    late = day + timedelta(days=30)
    assert (await plan(client, t, late))["shaped_by"] == []


async def test_threads_acknowledgement_and_visibility(
    client: AsyncTestClient[Litestar], tenant: Tenant
) -> None:
    t = tenant
    other_manager = await t.post(
        "admin",
        "/users",
        {
            "email": f"m2@{t.slug}.test",
            "name": "m2",
            "role": "manager",
            "org_unit_id": str(t.units["R2"]),
            "password": PASSWORD,
        },
    )
    assert other_manager["id"]
    t.tokens["m2"] = await t.login(f"m2@{t.slug}.test")
    day = date(2026, 11, 20)
    note = await t.post(
        "manager",
        "/coaching-notes",
        {"agent_id": str(t.users["agent"]), "day": day.isoformat(), "body": "Good day."},
    )
    # Up and down the path: the agent, their managers and the admin see it.
    for who in ("agent", "manager", "admin"):
        got = await ok(await client.get(f"/coaching-notes/{note['id']}", headers=t.h(who)), 200)
        assert got["body"] == "Good day."
    # Beside it: not the other branch's manager, nor another agent.
    for who in ("m2", "agent2"):
        resp = await client.get(f"/coaching-notes/{note['id']}", headers=t.h(who))
        assert resp.status_code == 404
        listed = await ok(await client.get("/coaching-notes", headers=t.h(who)), 200)
        assert note["id"] not in {n["id"] for n in listed}
    resp = await client.post(
        "/coaching-notes",
        json={"agent_id": str(t.users["agent"]), "day": day.isoformat(), "body": "x"},
        headers=t.h("m2"),
    )
    assert resp.status_code == 422 and errors_for(resp) == ["agent_id"]

    # The agent replies and acknowledges; the manager answers in the same thread.
    await t.post("agent", f"/coaching-notes/{note['id']}/replies", {"body": "Thanks!"})
    reply = await t.post("manager", f"/coaching-notes/{note['id']}/replies", {"body": "Keep on."})
    assert reply["parent_id"] == note["id"]
    resp = await client.post(f"/coaching-notes/{note['id']}/acknowledge", headers=t.h("manager"))
    assert resp.status_code == 403
    acked = await ok(
        await client.post(f"/coaching-notes/{note['id']}/acknowledge", headers=t.h("agent")), 200
    )
    assert acked["acknowledged_at"] is not None
    assert [r["body"] for r in acked["replies"]] == ["Thanks!", "Keep on."]
    listed = await ok(
        await client.get(
            "/coaching-notes",
            params={
                "agent_id": str(t.users["agent"]),
                "since": "2026-11-19",
                "until": "2026-11-21",
            },
            headers=t.h("manager"),
        ),
        200,
    )
    assert [n["id"] for n in listed] == [note["id"]]
    resp = await client.post(
        "/coaching-notes",
        json={"agent_id": str(t.users["agent"]), "day": "2026-11-20", "body": "x"},
        headers=t.h("agent"),
    )
    assert resp.status_code == 403


async def test_bad_notes_are_422_naming_the_field(
    client: AsyncTestClient[Litestar], tenant: Tenant
) -> None:
    t = tenant
    agent = str(t.users["agent"])
    cases: list[tuple[dict[str, Any], str]] = [
        ({"agent_id": agent, "day": "2026-11-20", "body": "x" * 10_001}, "body"),
        ({"agent_id": agent, "day": "2026-11-20", "body": ""}, "body"),
        ({"agent_id": str(t.units["HQ"]), "day": "2026-11-20", "body": "x"}, "agent_id"),
        ({"day": "2026-11-20", "body": "x"}, "agent_id"),
        ({"agent_id": agent, "body": "x"}, "day"),
        ({"subject": "visit", "body": "x"}, "visit_id"),
        ({"subject": "plan", "plan_id": agent, "body": "x"}, "plan_id"),
        (
            {
                "agent_id": agent,
                "day": "2026-11-20",
                "body": "x",
                "actions": {"target_visits": 0},
            },
            "target_visits",
        ),
        (
            {
                "agent_id": agent,
                "day": "2026-11-20",
                "body": "x",
                "actions": {"focus_campaign_id": agent},
            },
            "focus_campaign_id",
        ),
        (
            {
                "agent_id": agent,
                "day": "2026-11-20",
                "body": "x",
                "applies_from": "2026-12-10",
                "applies_until": "2026-12-01",
            },
            "applies_until",
        ),
    ]
    for body, field in cases:
        resp = await client.post("/coaching-notes", json=body, headers=t.h("manager"))
        assert resp.status_code == 422, (body, resp.text)
        assert any(field in (f or "") for f in errors_for(resp)), (body, resp.text)
    resp = await client.get(
        "/coaching-notes",
        params={"since": "2025-01-01", "until": "2026-11-20"},
        headers=t.h("manager"),
    )
    assert resp.status_code == 422 and errors_for(resp) == ["until"]
