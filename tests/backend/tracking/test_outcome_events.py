"""An agent's manual actions are events too (backend/tracking/announce.py): an outcome
recorded or corrected on a visit already told is a `visit_updated` naming `outcome`, with
what it was; the same outcome again says nothing."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.backend.world import Tenant, ok

LAT, LON = 37.5700, 126.9920


async def _updates(client: AsyncTestClient[Litestar], t: Tenant, visit: str) -> list[Any]:
    resp = await client.get(
        "/events",
        params={"user_id": str(t.users["agent"]), "kind": "visit_updated"},
        headers=t.h("manager"),
    )
    return [e for e in (await ok(resp, 200))["items"] if e["visit_id"] == visit]


async def test_an_outcome_is_told_as_an_update(
    client: AsyncTestClient[Litestar], tenant: Tenant
) -> None:
    customer = await tenant.post(
        "admin",
        "/customers",
        {"name": "outcome told", "lat": LAT, "lon": LON, "status": "prospect",
         "org_unit_id": str(tenant.units["T1"]), "assigned_agent_id": str(tenant.users["agent"])},
    )  # fmt: skip
    h = tenant.h("agent")
    body = {"customer_id": customer["id"], "lat": LAT, "lon": LON, "accuracy_m": 10}
    visit = await ok(await client.post("/visits", json=body, headers=h))
    assert await _updates(client, tenant, visit["id"]) == []

    await ok(
        await client.patch(
            f"/visits/{visit['id']}", json={"outcome": "appointment_set"}, headers=h
        ),
        200,
    )
    (told,) = await _updates(client, tenant, visit["id"])
    assert told["data"]["changed"] == ["outcome"]
    assert told["data"]["outcome"] == "appointment_set" and "outcome" not in told["data"]["was"]
    assert told["customer_id"] == customer["id"]

    # The same outcome again changes nothing, and says nothing; a correction says what it was.
    await ok(
        await client.patch(
            f"/visits/{visit['id']}", json={"outcome": "appointment_set"}, headers=h
        ),
        200,
    )
    assert len(await _updates(client, tenant, visit["id"])) == 1
    await ok(
        await client.patch(
            f"/visits/{visit['id']}", json={"outcome": "sale"}, headers=tenant.h("manager")
        ),
        200,
    )
    corrected = await _updates(client, tenant, visit["id"])
    assert len(corrected) == 2
    latest = max(corrected, key=lambda e: e["occurred_at"])
    assert latest["data"]["outcome"] == "sale"
    assert latest["data"]["was"]["outcome"] == "appointment_set"
