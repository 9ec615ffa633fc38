"""A fence around a customer announces a stay only once it is a visit; other fences at once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.backend.tracking.conftest import Field, at, point


async def events(client: AsyncTestClient[Litestar], f: Field, device: str) -> list[dict[str, Any]]:
    resp = await client.get("/events", params={"device_id": device}, headers=f.tenant.h("agent"))
    assert resp.status_code == 200, resp.text
    items: list[dict[str, Any]] = resp.json()["items"]
    return sorted(items, key=lambda e: (e["occurred_at"], e["kind"]))


async def send(client: AsyncTestClient[Litestar], f: Field, device: str, pts: list[Any]) -> None:
    resp = await client.post(
        "/ingest/locations",
        json={"device_id": device, "points": pts},
        headers=f.tenant.h("agent"),
    )
    assert resp.status_code == 200, resp.text


async def customer_fence(f: Field, north_m: float) -> tuple[str, str]:
    """A customer with a 50 m fence around its door, `north_m` north of the field's fence."""
    lat, lon = at(north_m)
    customer = await f.tenant.post(
        "manager",
        "/customers",
        {
            "name": f"Door {north_m}",
            "lat": lat,
            "lon": lon,
            "status": "customer",
            "assigned_agent_id": str(f.tenant.users["agent"]),
        },
    )
    fence = await f.tenant.post(
        "manager",
        "/geofences",
        {
            "name": f"Door {north_m}",
            "circle": {"lat": lat, "lon": lon, "radius_m": 50},
            "dwell_s": 300,
            "exit_buffer_m": 20,
            "customer_id": customer["id"],
        },
    )
    return str(customer["id"]), str(fence["id"])


async def test_passing_a_customers_door_is_no_event_but_a_visit_is(
    client: AsyncTestClient[Litestar], field: Field
) -> None:
    north = 5000.0  # far from the field's other fences
    customer, fence = await customer_fence(field, north)
    device = await field.device()
    # Four minutes at the door, then 500 m away: no event at the customer's fence.
    pts = [point(i * 30, north) for i in range(9)]
    pts += [point(300 + i * 30, north + 500) for i in range(1, 5)]
    await send(client, field, device, pts)
    assert [e for e in await events(client, field, device) if e["fence_id"] == fence] == []

    # Twelve minutes at the door: entered (when it happened), dwelled, then exited in the
    # next upload.
    start = 1200
    await send(client, field, device, [point(start + i * 30, north) for i in range(25)])
    away = [point(start + 750 + i * 30, north + 500) for i in range(1, 5)]
    await send(client, field, device, away)
    at_door = [e for e in await events(client, field, device) if e["fence_id"] == fence]
    assert [e["kind"] for e in at_door if e["kind"] in ("entered", "dwelled", "exited")] == [
        "entered",
        "dwelled",
        "exited",
    ]
    entered = next(e for e in at_door if e["kind"] == "entered")
    assert datetime.fromisoformat(entered["occurred_at"]) == datetime.fromisoformat(
        point(start, north)["time"]
    )
    assert {e["customer_id"] for e in at_door} == {customer}
    assert len({e["visit_id"] for e in at_door}) == 1


async def test_a_fence_of_no_customer_announces_at_once(
    client: AsyncTestClient[Litestar], field: Field
) -> None:
    device = await field.device()
    # One minute inside the field's fence (100 m, no customer), then away.
    pts = [point(7200 + i * 20, 0) for i in range(4)]
    pts += [point(7300 + i * 30, 600) for i in range(1, 5)]
    await send(client, field, device, pts)
    got = [e["kind"] for e in await events(client, field, device) if e["fence_id"]]
    assert got == ["entered", "exited"]


async def test_waiting_at_the_planned_customer_inside_a_neighbours_fence(
    client: AsyncTestClient[Litestar], field: Field, engine: AsyncEngine
) -> None:
    """Twelve minutes at the planned customer, 25 m from a neighbour whose fence covers the
    door: a visit at the planned customer, and nothing at the neighbour's fence, not even an
    enter and an exit."""
    north, start = 8000.0, 20_000
    lat, lon = at(north)
    planned = await field.tenant.post(
        "manager",
        "/customers",
        {
            "name": "Planned",
            "lat": lat,
            "lon": lon,
            "status": "customer",
            "assigned_agent_id": str(field.tenant.users["agent"]),
        },
    )
    neighbour, neighbour_fence = await customer_fence(field, north + 25)
    begins = datetime.fromisoformat(point(start, north)["time"])
    async with engine.begin() as conn:
        plan = await conn.scalar(
            text(
                "INSERT INTO plans (tenant_id, id, agent_id, plan_date, revision, status, "
                "depart_at, arrive_at, "
                "travel_s, wait_s, service_s, distance_m, score, solve_ms, strategy, route, "
                "dropped, inputs) VALUES (:t, gen_random_uuid(), :a, CAST(:b AS date), 1, 'active', :b, "
                ":e, 0, 0, 720, 0, 50, 1, 'test', "
                "ST_GeogFromText('LINESTRING(126.9 37.5, 127 37.6)'), '[]', '{}') RETURNING id"
            ),
            {
                "t": field.tenant.id,
                "a": field.tenant.users["agent"],
                "b": begins,
                "e": begins + timedelta(hours=1),
            },
        )
        await conn.execute(
            text(
                "INSERT INTO plan_stops (tenant_id, plan_id, seq, customer_id, kind, arrival_at, "
                "start_at, departure_at, travel_s, wait_s, distance_m, score, status) VALUES "
                "(:t, :p, 0, :c, 'appointment', :b, :b, :e, 0, 0, 0, 50, 'planned')"
            ),
            {
                "t": field.tenant.id,
                "p": plan,
                "c": planned["id"],
                "b": begins,
                "e": begins + timedelta(minutes=12),
            },
        )
    device = await field.device()
    # The stay dwells in one upload and ends in the next: neither half is recorded.
    await send(client, field, device, [point(start + i * 30, north) for i in range(25)])
    away = [point(start + 750 + i * 30, north + 600) for i in range(1, 7)]
    await send(client, field, device, away)
    assert [
        e for e in await events(client, field, device) if e["fence_id"] == neighbour_fence
    ] == []
    resp = await client.get(
        "/visits", params={"device_id": device}, headers=field.tenant.h("agent")
    )
    assert resp.status_code == 200, resp.text
    here = [v for v in resp.json()["items"] if v["customer_id"] in (planned["id"], neighbour)]
    assert [(v["customer_id"], v["source"]) for v in here] == [(planned["id"], "stop")]
