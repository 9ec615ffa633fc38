"""The ingest transaction's generic plans find rows by key, whatever the statistics said when
the plan was made. A connection keeps its generic plan, and a day's partition of `pings`
analyzed while empty once made the duplicate check of every later batch a sequential scan
over the whole day's points."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.db.tenancy import tenant_engine
from backend.tracking.ingest import STORE_PINGS, driver_transaction
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
