"""A tenant's days are its own (backend/tenants/settings.py `timezone`): a Seoul tenant's
figures for a day run from midnight to midnight in Seoul, not UTC (09:00 there)."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.backend.world import Tenant, errors_for, ok

LAT, LON = 37.5651, 126.9895


async def test_a_seoul_tenants_day_runs_midnight_to_midnight_in_seoul(
    client: AsyncTestClient[Litestar], tenant: Tenant
) -> None:
    settings = await ok(
        await client.patch(
            "/tenant/settings", json={"timezone": "Asia/Seoul"}, headers=tenant.h("admin")
        ),
        200,
    )
    assert settings["timezone"] == "Asia/Seoul"
    customer = await tenant.post(
        "admin",
        "/customers",
        {"name": "early caller", "lat": LAT, "lon": LON, "status": "customer",
         "org_unit_id": str(tenant.units["T1"]), "assigned_agent_id": str(tenant.users["agent"])},
    )  # fmt: skip
    # 08:30 in Seoul is still the day before in UTC: a sale on 1 December (30 November in
    # UTC), nobody home on 2 December (1 December in UTC).
    for when, outcome in (("2026-12-01T08:30:00+09:00", "sale"),
                          ("2026-12-02T08:30:00+09:00", "not_home")):  # fmt: skip
        body = {"customer_id": customer["id"], "lat": LAT, "lon": LON, "accuracy_m": 10, "at": when}
        visit = await ok(await client.post("/visits", json=body, headers=tenant.h("agent")))
        await ok(
            await client.patch(
                f"/visits/{visit['id']}", json={"outcome": outcome}, headers=tenant.h("agent")
            ),
            200,
        )
    got = await ok(
        await client.get(
            f"/org-units/{tenant.units['T1']}/figures",
            params={"since": "2026-12-01", "until": "2026-12-01"},
            headers=tenant.h("manager"),
        ),
        200,
    )
    assert got["timezone"] == "Asia/Seoul"
    (mine,) = [a for a in got["agents"] if a["agent_id"] == str(tenant.users["agent"])]
    assert mine["visits"] == 1 and mine["conversions"] == 1  # in UTC: the other one, no sale

    # A store's figures count the tenant's days too, unless the request names another zone.
    store = await tenant.post(
        "admin",
        "/places",
        {"name": "Myeongdong store", "kind": "store", "lat": LAT, "lon": LON,
         "org_unit_id": str(tenant.units["T1"])},
    )  # fmt: skip
    path = f"/places/{store['id']}/figures"
    days = {"since": "2026-12-01", "until": "2026-12-01"}
    local = await ok(await client.get(path, params=days, headers=tenant.h("admin")), 200)
    assert local["timezone"] == "Asia/Seoul"
    utc = await ok(
        await client.get(path, params={**days, "tz": "UTC"}, headers=tenant.h("admin")), 200
    )
    assert utc["timezone"] == "UTC"

    resp = await client.patch(
        "/tenant/settings", json={"timezone": "Mars/Olympus_Mons"}, headers=tenant.h("admin")
    )
    assert resp.status_code == 422 and errors_for(resp) == ["timezone"]


async def test_a_region_abroad_counts_its_own_days(
    client: AsyncTestClient[Litestar], other_tenant: Tenant
) -> None:
    """A tenant in UTC whose region R2 is in Seoul: R2's teams' figures run midnight to
    midnight in Seoul (the nearest unit with a zone), R1's in UTC."""
    t = other_tenant
    r = await client.patch(
        f"/org-units/{t.units['R2']}", json={"timezone": "Asia/Seoul"}, headers=t.h("admin")
    )
    assert r.status_code == 200 and r.json()["timezone"] == "Asia/Seoul"
    bad = await client.patch(
        f"/org-units/{t.units['R2']}", json={"timezone": "Asia/Atlantis"}, headers=t.h("admin")
    )
    assert bad.status_code == 422 and errors_for(bad) == ["timezone"]
    customer = await t.post(
        "admin", "/customers",
        {"name": "abroad", "lat": LAT, "lon": LON, "status": "customer",
         "org_unit_id": str(t.units["T2"]), "assigned_agent_id": str(t.users["agent2"])},
    )  # fmt: skip
    body = {"customer_id": customer["id"], "lat": LAT, "lon": LON, "accuracy_m": 10,
            "at": "2026-12-01T08:30:00+09:00"}  # fmt: skip
    await ok(await client.post("/visits", json=body, headers=t.h("agent2")))
    days = {"since": "2026-12-01", "until": "2026-12-01"}
    seoul = await ok(
        await client.get(f"/org-units/{t.units['T2']}/figures", params=days, headers=t.h("admin")),
        200,
    )
    assert seoul["timezone"] == "Asia/Seoul"
    assert [a["visits"] for a in seoul["agents"] if a["agent_id"] == str(t.users["agent2"])] == [1]
    home = await ok(
        await client.get(f"/org-units/{t.units['T1']}/figures", params=days, headers=t.h("admin")),
        200,
    )
    assert home["timezone"] == "UTC"
