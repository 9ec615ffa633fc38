"""Health, readiness, the OpenAPI contract and metrics."""

from __future__ import annotations

from collections import Counter

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.backend.world import Tenant


async def test_health_and_ready_need_no_auth(client: AsyncTestClient[Litestar]) -> None:
    health = {"status": "ok", "database": None, "replicas": None}
    assert (await client.get("/health")).json() == health
    ready = await client.get("/ready")
    # Ready or not, and nothing an anonymous prober could aim at (no versions).
    # No read replicas configured: nothing said of them.
    expected = {"status": "ok", "database": "ok", "replicas": None}
    assert ready.status_code == 200 and ready.json() == expected


async def test_openapi_is_public_and_names_every_operation(
    client: AsyncTestClient[Litestar],
) -> None:
    resp = await client.get("/schema/openapi.json")
    assert resp.status_code == 200
    ops = [op["operationId"] for path in resp.json()["paths"].values() for op in path.values()]
    assert len(ops) == len(set(ops)), Counter(ops).most_common(3)
    assert {"ListGeofences", "ImportCustomers", "UpsertGeofence", "Login"} <= set(ops)


async def test_metrics_are_for_admins(client: AsyncTestClient[Litestar], tenant: Tenant) -> None:
    await client.get("/places", headers=tenant.h("agent"))
    assert (await client.get("/metrics")).status_code == 401
    assert (await client.get("/metrics", headers=tenant.h("manager"))).status_code == 403
    resp = await client.get("/metrics", headers=tenant.h("admin"))
    assert resp.status_code == 200
    assert (
        'fieldsense_requests_total{app_name="fieldsense",method="GET",path="/places"' in resp.text
    )


async def test_ingest_bodies_are_in_the_contract(client: AsyncTestClient[Litestar]) -> None:
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    for path, field in (
        ("/ingest/locations", "points"),
        ("/ingest/beacons", "scans"),
        ("/ingest/wifi", "scans"),
    ):
        schema = paths[path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert {"device_id", field} <= set(schema["required"])
        assert schema["properties"][field]["maxItems"] == 1000
