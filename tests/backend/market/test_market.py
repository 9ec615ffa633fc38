"""Market view of a place and of a drawn area, on real PostGIS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.backend.world import Tenant, errors_for, offset

LAT, LON = 37.30, 127.20


def near(north_m: float, east_m: float) -> dict[str, float]:
    return offset(LAT, LON, north_m, east_m)


def square(half_m: float, north: float = 0, east: float = 0) -> dict[str, Any]:
    corners = [(-1, -1), (1, -1), (1, 1), (-1, 1), (-1, -1)]
    ring = []
    for dn, de in corners:
        p = near(north + dn * half_m, east + de * half_m)
        ring.append([p["lon"], p["lat"]])
    return {"type": "Polygon", "coordinates": [ring]}


async def test_place_and_area(tenant: Tenant) -> None:
    client = tenant.client
    complex_ = await tenant.post(
        "admin",
        "/places",
        {
            "kind": "apartment_complex",
            "name": "Hillside",
            **near(0, 0),
            "org_unit_id": str(tenant.units["T1"]),
            "footprint": square(100),
            "household_count": 400,
        },
    )

    async def add(name: str, north: float, **extra: Any) -> str:
        body = {
            "name": name,
            **near(north, 0),
            "org_unit_id": str(tenant.units["T1"]),
            "assigned_agent_id": str(tenant.users["agent"]),
            **extra,
        }
        return str((await tenant.post("admin", "/customers", body))["id"])

    recent = (datetime.now(UTC) - timedelta(days=30)).isoformat()
    big = await add("big", 10, status="customer", value=90000, last_contact_at=recent)
    small = await add("small", 20, status="customer", value=1000, last_contact_at=recent)
    await add("stale", 30, status="customer", value=50000)  # not in touch: no referrer
    await add("p1", -10, status="prospect")
    await add("p2", -20, status="prospect")
    await add("gone", 40, status="dormant")
    await add("blocked", 50, status="prospect", do_not_visit=True)
    await add("outside", 500, status="customer", value=99999, last_contact_at=recent)
    await tenant.post(
        "admin",
        "/territories",
        {
            "name": "Hill",
            "geometry": square(300),
            "org_unit_id": str(tenant.units["T1"]),
            "agent_id": str(tenant.users["agent"]),
        },
    )

    resp = await client.get(f"/market/places/{complex_['id']}", headers=tenant.h("manager"))
    assert resp.status_code == 200, resp.text
    view = resp.json()
    assert view["households"] == 400
    assert (view["customers"], view["prospects"], view["dormant"], view["do_not_visit"]) == (
        3,
        3,
        1,
        1,
    )
    assert view["penetration"] == round(3 / 400, 4)
    assert [r["customer_id"] for r in view["referrers"]] == [big, small]
    assert 35_000 < view["area_m2"] < 45_000  # 200 m x 200 m
    cover = {c["agent_id"]: c for c in view["coverage"]}
    agent = cover[str(tenant.users["agent"])]
    assert agent["customers"] == 8 - 1 and agent["territory"] is True

    # A drawn area around the outside customer only; agent2 (another branch) sees none of it.
    area = {"area": square(50, north=500)}
    view = (await client.post("/market/area", json=area, headers=tenant.h("manager"))).json()
    assert view["customers"] == 1 and view["households"] is None and view["penetration"] is None
    other = (await client.post("/market/area", json=area, headers=tenant.h("agent2"))).json()
    assert other["customers"] == 0
    # Nor does agent2 learn who covers the hill: colleagues outside their own unit are hidden.
    hill = (
        await client.post("/market/area", json={"area": square(100)}, headers=tenant.h("agent2"))
    ).json()
    assert hill["coverage"] == []

    bad = await client.post(
        "/market/area",
        json={"area": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [0, 0]]]}},
        headers=tenant.h("manager"),
    )
    assert bad.status_code == 422
    assert any((f or "").startswith("area") for f in errors_for(bad)), bad.text
    assert (
        await client.get(f"/market/places/{complex_['id']}", headers=tenant.h("agent2"))
    ).status_code == 404
