"""Campaign target lists end to end on real PostGIS: members, access, tracking, boost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.backend.world import Tenant, errors_for, offset

LAT, LON = 37.40, 127.00
TODAY = datetime.now(UTC).date()


def near(north_m: float, east_m: float) -> dict[str, float]:
    return offset(LAT, LON, north_m, east_m)


async def customer(tenant: Tenant, name: str, north: float, **extra: Any) -> str:
    body = {
        "name": name,
        **near(north, 0),
        "org_unit_id": str(tenant.units["T1"]),
        "assigned_agent_id": str(tenant.users["agent"]),
        **extra,
    }
    return str((await tenant.post("admin", "/customers", body))["id"])


def long_ago(days: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


WIN_BACK = {
    "name": "Win back 2026",
    "kind": "win_back",
    "starts_on": (TODAY - timedelta(days=1)).isoformat(),
    "ends_on": (TODAY + timedelta(days=30)).isoformat(),
    "boost": 25,
    "filters": {"statuses": ["dormant"], "untouched_days_min": 90},
}


async def test_campaign_end_to_end(tenant: Tenant) -> None:
    client = tenant.client
    member = await customer(tenant, "lapsed", 300, status="dormant", last_contact_at=long_ago(200))
    twin = await customer(
        tenant,
        "lapsed twin",
        300,
        status="dormant",
        last_contact_at=long_ago(200),
        org_unit_id=str(tenant.units["T1"]),
        assigned_agent_id=None,
    )
    recent = await customer(tenant, "recent", 500, status="dormant", last_contact_at=long_ago(10))
    prospect = await customer(tenant, "prospect", 700, status="prospect")
    blocked = await customer(tenant, "blocked", 900, status="dormant", do_not_visit=True)
    elsewhere = await tenant.post(
        "admin",
        "/customers",
        {
            "name": "other branch",
            **near(0, 0),
            "org_unit_id": str(tenant.units["T2"]),
            "status": "dormant",
        },
    )

    campaign = await tenant.post(
        "manager", "/campaigns", {**WIN_BACK, "org_unit_id": str(tenant.units["B1"])}
    )
    assert campaign["progress"]["members"] == 2
    resp = await client.get(f"/campaigns/{campaign['id']}/members", headers=tenant.h("manager"))
    members = {m["customer_id"]: m for m in resp.json()}
    assert set(members) == {member, twin}
    assert members[member]["agent_id"] == str(tenant.users["agent"])
    assert members[twin]["agent_id"] is None
    for left_out in (recent, prospect, blocked, elsewhere["id"]):
        assert left_out not in members

    # The agent sees the campaign through their own members only; agent2 does not see it.
    mine = await client.get(f"/campaigns/{campaign['id']}/members", headers=tenant.h("agent"))
    assert [m["customer_id"] for m in mine.json()] == [member]
    assert (
        await client.get(f"/campaigns/{campaign['id']}", headers=tenant.h("agent2"))
    ).status_code == 404
    listed = await client.get("/campaigns", headers=tenant.h("agent"))
    assert [c["id"] for c in listed.json()] == [campaign["id"]]

    # The boost shows in suggestions, with its reason.
    body = {"position": near(0, 0), "free_minutes": 60, "limit": 50}
    items = {
        i["customer_id"]: i
        for i in (
            await client.post("/recommendations/free-time", json=body, headers=tenant.h("agent"))
        ).json()["items"]
    }
    assert "campaign: Win back 2026" in items[member]["reasons"]
    # Its score: dormant 30 + untouched 40, times what the team taught about its segment,
    # plus the campaign's 25 (nothing reached yet: the learned factor is 1).
    learned = (await client.get("/recommendations/learned", headers=tenant.h("agent"))).json()
    factor = next((s["factor"] for s in learned if s["segment"] == "unknown"), 1.0)
    assert items[member]["score"] == round(min(100.0, 70 * factor + 25), 2)
    assert items[recent]["score"] == round(min(100.0, (30 + 40 * 10 / 60) * factor), 2)

    # A visit contacts the member; an appointment set converts it.
    visit = await tenant.post(
        "agent", "/visits", {"customer_id": member, **near(300, 0), "accuracy_m": 10}
    )
    got = (await client.get(f"/campaigns/{campaign['id']}", headers=tenant.h("manager"))).json()
    assert got["progress"]["contacted"] == 1 and got["progress"]["targeted"] == 1
    resp = await client.patch(
        f"/visits/{visit['id']}", json={"outcome": "appointment_set"}, headers=tenant.h("agent")
    )
    assert resp.status_code == 200
    got = (await client.get(f"/campaigns/{campaign['id']}", headers=tenant.h("manager"))).json()
    assert got["progress"]["converted"] == 1
    assert got["progress"]["contact_rate"] == 0.5
    assert got["progress"]["conversion_rate"] == 1.0
    # What it taught: 1 of 1 reached converted, (1 + 2) / (1 + 10) against the 20 % prior.
    assert got["learned"] == {
        "reached": 1,
        "converted": 1,
        "rate": round(3 / 11, 4),
        "boost_factor": round(3 / 11 / 0.2, 4),
    }
    converted = (
        await client.get(
            f"/campaigns/{campaign['id']}/members",
            params={"status": "converted"},
            headers=tenant.h("manager"),
        )
    ).json()
    assert [m["visit_id"] for m in converted] == [visit["id"]]
    # Converted: the boost no longer applies.
    items = {
        i["customer_id"]: i
        for i in (
            await client.post("/recommendations/free-time", json=body, headers=tenant.h("agent"))
        ).json()["items"]
    }
    assert member not in items  # visited just now
    assert twin in items and "campaign: Win back 2026" in items[twin]["reasons"]
    assert (
        "Win back 2026: 1 of 1 reached converted (learned rate 27%, boost x1.36)"
        in items[twin]["reasons"]
    )


@pytest.mark.parametrize(
    ("who", "patch", "field", "status"),
    [
        ("manager", {"ends_on": (TODAY - timedelta(days=5)).isoformat()}, "ends_on", 422),
        ("manager", {"filters": {"colour": ["red"]}}, "filters.colour", 422),
        ("manager", {"boost": 80}, "boost", 422),
        ("manager", {"org_unit_id": "T2"}, "org_unit_id", 422),
        ("agent", {}, None, 403),
    ],
)
async def test_bad_campaigns(
    tenant: Tenant, who: str, patch: dict[str, Any], field: str | None, status: int
) -> None:
    body = {**WIN_BACK, **patch}
    if body.get("org_unit_id") == "T2":
        body["org_unit_id"] = str(tenant.units["T2"])
    resp = await tenant.client.post("/campaigns", json=body, headers=tenant.h(who))
    assert resp.status_code == status, resp.text
    if field is not None:
        assert field in errors_for(resp), resp.text
