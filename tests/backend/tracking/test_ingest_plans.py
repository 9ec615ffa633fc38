"""The ingest transaction's generic plans find rows by key or index, whatever the statistics
said when the plan was made. A connection keeps its generic plan, and a day's partition of
`pings` analyzed while empty once made the duplicate check of every later batch a sequential
scan over the whole day's points; and the watch list, with its LIMIT a parameter, once sorted
every fence of the tenant (27 to 40 ms with 10,000 of them)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.db.tenancy import tenant_engine
from backend.tracking.ingest import STORE_PINGS, WATCH, driver_transaction
from tests.conftest import fresh_database_with_tenant

# STORE_PINGS's parameters, in order.
TYPES = (
    "uuid, uuid, timestamptz, uuid[], float8[], float8[], float8[], float8[], float8[],"
    " float8[], float8[], float8[], text[], bool[], float8, float8, float8, float8, bool[]"
)


@pytest_asyncio.fixture(scope="module")
async def url(db_url: str) -> AsyncIterator[str]:
    url = await fresh_database_with_tenant(db_url, "ingestplans")
    # Every partition analyzed while it holds no point: the planner now believes them empty.
    db = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        # And as many fences as the benchmark (the planner weighs the index scan against a
        # sort of all of them): 10,000 circles of 50 m on a grid, as in a city.
        await db.execute(
            """INSERT INTO geofences (tenant_id, id, org_unit_id, name, shape, center, radius_m,
                                      geom)
               SELECT t.id, gen_random_uuid(), o.id, 'f' || n, 'circle', c, 50,
                      ST_Buffer(c, 50)::geometry
               FROM tenants t JOIN org_units o ON o.tenant_id = t.id AND o.parent_id IS NULL,
                    generate_series(0, 9999) AS n,
                    LATERAL (SELECT ST_SetSRID(ST_MakePoint(127.0 + (n % 100) * 0.002,
                                                            37.5 + (n / 100) * 0.002),
                                               4326)::geography AS c) p"""
        )
        await db.execute("ANALYZE geofences")
        await db.execute("ANALYZE pings")
        empty = await db.fetchval(
            "SELECT count(*) FROM pg_class WHERE relname LIKE 'pings_p%' AND relkind = 'r' "
            "AND reltuples = 0"
        )
        assert empty > 0  # or the test would not test anything
    finally:
        await db.close()
    yield url


@pytest_asyncio.fixture
async def engine(url: str) -> AsyncIterator[AsyncEngine]:
    eng = tenant_engine(url)
    yield eng
    await eng.dispose()


async def _generic_plan(db: asyncpg.Connection) -> str:
    """The plan the ingest keeps for its insert, for a batch of today's points."""
    await db.execute(f"PREPARE store_pings ({TYPES}) AS {STORE_PINGS}")
    rows = await db.fetch(
        "EXPLAIN EXECUTE store_pings (gen_random_uuid(), gen_random_uuid(), now(), NULL, NULL,"
        " NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
        " extract(epoch FROM now()) - 60, extract(epoch FROM now()), NULL, NULL, NULL)"
    )
    await db.execute("DEALLOCATE store_pings")
    return "\n".join(r[0] for r in rows)


async def test_the_duplicate_check_uses_the_key_even_on_a_partition_analyzed_empty(
    engine: AsyncEngine,
) -> None:
    async with driver_transaction(engine) as db:
        plan = await _generic_plan(db)
    assert "pings_p" in plan, plan  # today's partition is in the plan
    assert "Seq Scan" not in plan, plan
    assert "Index Only Scan" in plan, plan


async def test_the_watch_list_walks_the_index_to_its_nearest_fences(engine: AsyncEngine) -> None:
    """The list sent when a batch holds no new point (a phone re-sending what was stored)."""
    async with driver_transaction(engine) as db:
        await db.execute(f"PREPARE watch (uuid, float8, float8) AS {WATCH}")
        rows = await db.fetch("EXPLAIN EXECUTE watch (fieldsense_tenant(), 37.55, 127.05)")
        plan = "\n".join(r[0] for r in rows)
    assert "Index Scan using ix_geofences_tenant_id_geom" in plan, plan
    assert "Order By" in plan and "Sort" not in plan, plan
