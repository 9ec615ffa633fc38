"""Privacy: erasing one agent's location history; reads of it by others are audited."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.backend.tracking.conftest import Field, visit_track


async def upload(client: AsyncTestClient[Litestar], f: Field, who: str) -> str:
    device = await f.device(who)
    resp = await client.post(
        "/ingest/locations",
        json={"device_id": device, "points": visit_track()},
        headers=f.tenant.h(who),
    )
    assert resp.status_code == 200 and resp.json()["events"] > 0, resp.text
    return device


async def counts(engine: AsyncEngine, device: str) -> dict[str, int]:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    """SELECT (SELECT count(*) FROM pings WHERE device_id = :d) AS pings,
                              (SELECT count(*) FROM events WHERE device_id = :d) AS events,
                              (SELECT count(*) FROM device_states WHERE device_id = :d) AS states"""
                ),
                {"d": device},
            )
        ).one()
    return dict(row._mapping)


async def audit(client: AsyncTestClient[Litestar], f: Field, subject: Any) -> list[dict[str, Any]]:
    resp = await client.get(
        "/audit-log", params={"subject_user_id": str(subject)}, headers=f.tenant.h("admin")
    )
    assert resp.status_code == 200, resp.text
    items: list[dict[str, Any]] = resp.json()
    return items


async def test_an_admin_erases_one_agents_location_history(
    client: AsyncTestClient[Litestar], field: Field, engine: AsyncEngine
) -> None:
    t = field.tenant
    mine, theirs = await upload(client, field, "agent"), await upload(client, field, "agent2")
    checkin = await client.post(
        "/visits",
        json={"customer_id": field.customer["id"], "lat": 37.6, "lon": 127.0, "accuracy_m": 9},
        headers=t.h("agent"),
    )
    assert checkin.status_code == 201, checkin.text

    # A manager reading the agent's raw track is recorded; the agent reading their own is not.
    before = len(await audit(client, field, t.users["agent"]))
    own = await client.get(f"/devices/{mine}/timeline", headers=t.h("agent"))
    assert own.status_code == 200 and own.json()["points"]
    assert len(await audit(client, field, t.users["agent"])) == before
    read = await client.get(f"/devices/{mine}/timeline", headers=t.h("admin"))
    assert read.status_code == 200
    entries = await audit(client, field, t.users["agent"])
    assert len(entries) == before + 1 and entries[0]["action"] == "read_location_history"

    # Only an admin may erase.
    url = f"/users/{t.users['agent']}/erase-location-history"
    assert (await client.post(url, headers=t.h("manager"))).status_code == 403
    assert (await client.post(url, headers=t.h("agent"))).status_code == 403
    resp = await client.post(url, headers=t.h("admin"))
    assert resp.status_code == 200, resp.text
    erased = resp.json()
    assert erased["points"] >= len(visit_track()) and erased["events"] > 0
    assert erased["visits_stripped"] >= 1
    assert erased["live_positions"] >= 1  # the live map's copy of where the phone was

    assert await counts(engine, mine) == {"pings": 0, "events": 0, "states": 0}
    kept = await counts(engine, theirs)  # another agent's history is untouched
    async with engine.connect() as conn:
        live = dict(
            (
                await conn.execute(
                    text(
                        "SELECT agent_id, count(*) FROM live_events WHERE kind = 'position'"
                        " AND agent_id = ANY(:a) GROUP BY agent_id"
                    ),
                    {"a": [t.users["agent"], t.users["agent2"]]},
                )
            ).all()
        )
    assert t.users["agent"] not in live and live[t.users["agent2"]] >= 1
    assert kept["pings"] == len(visit_track()) and kept["events"] > 0
    visits = await client.get(
        "/visits", params={"agent_id": str(t.users["agent"])}, headers=t.h("admin")
    )
    rows = visits.json()["items"]
    assert rows and all(v["lat"] is None and v["lon"] is None for v in rows)
    entries = await audit(client, field, t.users["agent"])
    assert entries[0]["action"] == "erase_location_history"
    assert entries[0]["detail"]["points"] == erased["points"]
