"""Read replicas (backend/db/replicas.py) on a real hot standby of the test cluster, made by
streaming replication (`EmbeddedReplica`): team figures are read there once the standby has
what the primary committed; a caller who just wrote reads from the primary; a standby whose
replay is paused past the bound, or stopped, serves nothing, and /ready says why."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from backend.app import create_app
from backend.config import Settings
from backend.db.replicas import POLL_S
from backend.embedded_db import EmbeddedPostgres, EmbeddedReplica
from tests.backend.world import Tenant, make_tenant

MAX_LAG_S = 2.0


@pytest.fixture(scope="module")
def standby(pg: EmbeddedPostgres | None, db_url: str) -> Iterator[EmbeddedReplica]:
    if pg is None:
        pytest.skip("the standby is made from the embedded test cluster")
    replica = EmbeddedReplica(Path(tempfile.mkdtemp(prefix="fieldsense-standby-")), primary=pg)
    replica.start(fsync=False)
    try:
        yield replica
    finally:
        replica.destroy()


@pytest_asyncio.fixture(scope="module")
async def reading(
    settings: Settings, standby: EmbeddedReplica
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    app = create_app(replace(settings, read_database_urls=(standby.url,), read_max_lag_s=MAX_LAG_S))
    async with AsyncTestClient(app=app) as client:
        yield client


async def _figures(client: AsyncTestClient[Litestar], t: Tenant, who: str) -> tuple[int, str]:
    today = datetime.now(UTC).date().isoformat()
    r = await client.get(
        f"/org-units/{t.units['T1']}/figures",
        params={"since": today, "until": today},
        headers=t.h(who),
    )
    assert r.status_code == 200, r.text
    return r.json()["visits"], r.headers["x-read-source"]


async def _until(check: Any, within_s: float = 20) -> Any:
    deadline = asyncio.get_running_loop().time() + within_s
    while True:
        got = await check()
        if got or asyncio.get_running_loop().time() > deadline:
            return got
        await asyncio.sleep(0.2)


async def test_figures_are_read_on_the_standby_within_the_bound_else_on_the_primary(
    reading: AsyncTestClient[Litestar], engine: AsyncEngine, standby: EmbeddedReplica
) -> None:
    client = reading
    async with AsyncSession(engine, expire_on_commit=False) as session:
        t = await make_tenant(client, session)
    body = {"name": "on the standby", "lat": 37.57, "lon": 126.98,
            "org_unit_id": str(t.units["T1"]), "assigned_agent_id": str(t.users["agent"])}  # fmt: skip
    customer = (await t.post("admin", "/customers", body))["id"]
    await t.post("agent", "/visits", {"customer_id": customer, "lat": 37.57, "lon": 126.98,
                                     "accuracy_m": 10})  # fmt: skip

    # The manager wrote nothing: once the standby has the visit, it serves the figures.
    async def on_standby() -> bool:
        visits, source = await _figures(client, t, "manager")
        return visits == 1 and source == "replica"

    assert await _until(on_standby), await _figures(client, t, "manager")
    assert (await client.get("/ready")).json()["replicas"] == "ok"

    # A manager who just wrote reads from the primary, and sees their own write's world.
    note = {"agent_id": str(t.users["agent"]), "day": datetime.now(UTC).date().isoformat(),
            "body": "well done"}  # fmt: skip
    await t.post("manager", "/coaching-notes", note)
    assert await _figures(client, t, "manager") == (1, "primary")

    # Replay paused: the standby falls behind the bound and serves nothing.
    standby._psql("SELECT pg_wal_replay_pause()")
    try:
        await t.post("agent", "/visits", {"customer_id": customer, "lat": 37.57, "lon": 126.98,
                                         "accuracy_m": 10})  # fmt: skip
        await asyncio.sleep(MAX_LAG_S + 3 * POLL_S)
        assert await _figures(client, t, "admin") == (2, "primary")
        assert (await client.get("/ready")).json()["replicas"] == "lagging"
    finally:
        standby._psql("SELECT pg_wal_replay_resume()")

    async def caught_up() -> bool:
        return await _figures(client, t, "admin") == (2, "replica")

    assert await _until(caught_up)
    # The visits and events lists too.
    r = await client.get("/visits", headers=t.h("admin"))
    assert r.headers["x-read-source"] == "replica" and len(r.json()["items"]) == 2
    r = await client.get("/events", headers=t.h("admin"))
    assert r.status_code == 200 and r.headers["x-read-source"] == "replica"

    # The standby stopped: reads go to the primary at once, and /ready says so.
    standby.stop()
    try:
        assert await _figures(client, t, "admin") == (2, "primary")

        async def said() -> bool:
            ready = (await client.get("/ready")).json()
            return ready["status"] == "ok" and ready["replicas"] == "unavailable"

        assert await _until(said, within_s=10)
    finally:
        standby.start(fsync=False)


async def test_a_primary_named_as_a_replica_serves_no_read(
    settings: Settings, db_url: str, engine: AsyncEngine
) -> None:
    app = create_app(replace(settings, read_database_urls=(db_url,), read_max_lag_s=MAX_LAG_S))
    async with AsyncTestClient(app=app) as client:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            t = await make_tenant(client, session)
        assert (await client.get("/ready")).json()["replicas"] == "not_a_standby"
        assert (await _figures(client, t, "manager"))[1] == "primary"
