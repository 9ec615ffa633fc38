"""Prospects along a planned route, and adding them through a re-plan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.backend.world import Tenant, errors_for, offset

LAT, LON = 37.60, 127.10
DAY = datetime.now(UTC).date() + timedelta(days=1)


def near(north_m: float, east_m: float) -> dict[str, float]:
    return offset(LAT, LON, north_m, east_m)


async def customer(tenant: Tenant, name: str, north: float, east: float, **extra: Any) -> str:
    body = {
        "name": name,
        **near(north, east),
        "org_unit_id": str(tenant.units["T1"]),
        "assigned_agent_id": str(tenant.users["agent"]),
        "status": "prospect",
        **extra,
    }
    return str((await tenant.post("admin", "/customers", body))["id"])


async def test_corridor_detours_and_replan_with_additions(tenant: Tenant) -> None:
    client = tenant.client
    await client.put(
        f"/agents/{tenant.users['agent']}/profile",
        json={"start": near(0, 0), "shift_start": "09:00", "shift_end": "17:00", "timezone": "UTC"},
        headers=tenant.h("admin"),
    )
    far_end = await customer(tenant, "far end", 0, 3000)
    on_way = await customer(tenant, "on the way", 80, 1500)
    off_way = await customer(tenant, "off the way", 2500, 1500)
    blocked = await customer(tenant, "blocked", -60, 1000, do_not_visit=True)
    theirs = await customer(
        tenant, "theirs", 50, 2000, assigned_agent_id=str(tenant.users["agent2"])
    )
    plan = await tenant.post(
        "agent",
        "/plans",
        {
            "agent_id": str(tenant.users["agent"]),
            "date": DAY.isoformat(),
            "must_visit": [{"customer_id": far_end, "service_min": 30}],
            "prospects": [],
            "time_limit_s": 0.2,
        },
    )
    resp = await client.get(
        f"/recommendations/along-route/{plan['id']}",
        params={"corridor_m": 300},
        headers=tenant.h("agent"),
    )
    assert resp.status_code == 200, resp.text
    items = {i["customer_id"]: i for i in resp.json()["items"]}
    assert on_way in items
    for excluded in (off_way, blocked, theirs, far_end):
        assert excluded not in items
    item = items[on_way]
    assert 70 <= item["off_route_m"] <= 90
    assert item["after_seq"] in (0, 1)
    assert 120 <= item["detour_s"] < 180  # one more parking stop (2 min) and ~160 m more
    assert any("off your route" in r for r in item["reasons"])

    start = datetime.combine(DAY, datetime.min.time(), tzinfo=UTC) + timedelta(hours=9)
    new = await tenant.post(
        "agent",
        f"/plans/{plan['id']}/replan",
        {
            "position": near(0, 0),
            "at": start.isoformat(),
            "add": [{"customer_id": on_way, "score": 60, "service_min": 20}],
        },
    )
    assert on_way in {s["customer_id"] for s in new["stops"]}

    # Another branch's agent sees neither the plan nor its suggestions; bad corridors are 422.
    other = await client.get(
        f"/recommendations/along-route/{plan['id']}", headers=tenant.h("agent2")
    )
    assert other.status_code == 404
    bad = await client.get(
        f"/recommendations/along-route/{plan['id']}",
        params={"corridor_m": 0},
        headers=tenant.h("agent"),
    )
    assert bad.status_code == 422
    assert "corridor_m" in errors_for(bad), bad.text
