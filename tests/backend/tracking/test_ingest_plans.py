"""The ingest transaction's generic plans find rows by key or index, whatever the statistics
said when the plan was made. A connection keeps its generic plan, and a day's partition of
`pings` analyzed while empty once made the duplicate check of every later batch a sequential
scan over the whole day's points; and the watch list, with its LIMIT a parameter, once sorted
every fence of the tenant (27 to 40 ms with 10,000 of them)."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.db.tenancy import driver_of, tenant_engine, tenant_scope
from backend.tracking.ingest import FLAG_PINGS, STORE_PINGS, ingest_connection, warm
from backend.tracking.matching import MATCH_AND_WATCH, WATCH
from backend.tracking.stays import close_visits_sql
from tests.conftest import fresh_database_with_tenant

# STORE_PINGS's parameters, in order.
TYPES = (
    "uuid, uuid, timestamptz, uuid[], float8[], float8[], float8[], float8[], float8[],"
    " float8[], float8[], float8[], text[], bool[], float8, float8, float8, float8, bool[]"
)

MATCH_TYPES = "float8[], float8[], float8[], int[], uuid, float8, float8, bool"


@pytest_asyncio.fixture(scope="module")
async def url(db_url: str) -> AsyncIterator[str]:
    url = await fresh_database_with_tenant(db_url, "ingestplans")
    db = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        # As many fences as the benchmark (the planner weighs the index scan against a sort
        # of all of them): 10,000 circles of 50 m on a grid, as in a city.
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
        assert await db.fetchval("SELECT count(*) FROM geofences") == 10_000
        await db.execute("ANALYZE geofences")
        # Every partition analyzed while it holds no point: the planner believes them empty.
        await db.execute("ANALYZE pings")
        empty = await db.fetchval(
            "SELECT count(*) FROM pg_class WHERE relname LIKE 'pings_p%' AND relkind = 'r' "
            "AND reltuples = 0"
        )
        assert empty > 0  # or the test would not test anything
    finally:
        await db.close()
    yield url


@pytest_asyncio.fixture(scope="module")
async def tenant_id(url: str) -> uuid.UUID:
    db = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        tid: uuid.UUID = await db.fetchval("SELECT id FROM tenants")
    finally:
        await db.close()
    return tid


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
    async with ingest_connection(engine) as db:
        plan = await _generic_plan(db)
    assert "pings_p" in plan, plan  # today's partition is in the plan
    assert "Seq Scan" not in plan, plan
    assert "Index Only Scan" in plan, plan


async def test_the_watch_list_walks_the_index_to_its_nearest_fences(
    engine: AsyncEngine, tenant_id: uuid.UUID
) -> None:
    """The list sent when a batch holds no new point (a phone re-sending what was stored)."""
    with tenant_scope(tenant_id):
        async with ingest_connection(engine) as db:
            await db.execute(f"PREPARE watch (uuid, float8, float8) AS {WATCH}")
            rows = await db.fetch("EXPLAIN EXECUTE watch (fieldsense_tenant(), 37.55, 127.05)")
    plan = "\n".join(r[0] for r in rows)
    assert "Index Scan using ix_geofences_tenant_id_geom" in plan, plan
    assert "Order By" in plan and "Sort" not in plan, plan


async def test_the_fence_match_keeps_a_plan_fit_for_whichever_tenant_comes_next(
    url: str, tenant_id: uuid.UUID
) -> None:
    """A connection keeps its plans, and PostgreSQL estimates rows with the tenant of the
    moment (it evaluates `fieldsense_tenant()` while planning). Made first for no tenant (as
    at start-up, `warm`) or for one without fences, the match once read every fence of the
    next tenant, on every batch: 22 ms for one point against 0.8."""
    one = tenant_engine(url, pool_size=1, max_overflow=0)  # one connection throughout
    try:
        async with one.connect() as conn:
            db = await driver_of(conn)
            await warm(db)  # the function's plan, made and kept under no tenant
            await db.execute(f"PREPARE match ({MATCH_TYPES}) AS {MATCH_AND_WATCH}")
            await db.execute(
                "BEGIN; SELECT set_config('plan_cache_mode', 'force_generic_plan', true);"
                " EXECUTE match ('{}', '{}', '{}', '{}', NULL, 0, 0, false); ROLLBACK"
            )
        with tenant_scope(tenant_id):
            async with ingest_connection(one) as db:
                rows = await db.fetch(
                    "EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) EXECUTE match (ARRAY[37.55],"
                    " ARRAY[127.05], ARRAY[10.0], ARRAY[0], fieldsense_tenant(), 37.55, 127.05,"
                    " false)"
                )
        plan = "\n".join(r[0] for r in rows)
    finally:
        await one.dispose()
    # The point is in a fence; the matching found it by the reach index, in a few pages, and
    # the fence's place by its key.
    scan = re.search(
        r"Function Scan on fieldsense_fence_near.*rows=(\d+) loops=1\)\n\s+Buffers: shared hit=(\d+)",
        plan,
    )
    assert scan is not None, plan
    assert int(scan.group(1)) >= 1, plan
    assert int(scan.group(2)) < 100, plan
    assert "Index Scan using pk_geofences" in plan, plan
    assert "uq_geofences_tenant_id_tag_external_id" not in plan, plan


async def test_closing_visits_finds_them_by_key_whatever_the_table_held_before(
    url: str, tenant_id: uuid.UUID
) -> None:
    """A connection's first batch that ends a visit plans the update, and on a new server the
    table is then nearly empty. Kept from then (a generic plan), it read every visit of the
    tenant by its tenant key on every later batch that ended one: 3,700 pages and 2.8 ms a
    call with 9,600 visits in the benchmark, and more as the table grew. Now it is planned on
    each call: here after the table was analyzed empty, then filled."""
    owner = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    one = tenant_engine(url, pool_size=1, max_overflow=0)
    try:
        await owner.execute("ANALYZE visits")  # empty: the planner believes so
        await owner.execute(
            """INSERT INTO visits (tenant_id, id, agent_id, source, arrived_at)
               SELECT u.tenant_id, gen_random_uuid(), u.id, 'stop',
                      now() - n * interval '1 minute'
               FROM (SELECT tenant_id, id FROM users LIMIT 1) u, generate_series(1, 5000) n"""
        )
        visits = [r["id"] for r in await owner.fetch("SELECT id FROM visits LIMIT 2")]
        with tenant_scope(tenant_id):
            async with ingest_connection(one) as db:
                sql = close_visits_sql(
                    tenant_id, [(str(v), 1.7e9 + i) for i, v in enumerate(visits)]
                )
                rows = await db.fetch(f"EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) {sql}")
                departed = await db.fetch(
                    "SELECT extract(epoch FROM departed_at) AS t FROM visits"
                    " WHERE departed_at IS NOT NULL ORDER BY t"
                )
        plan = "\n".join(r[0] for r in rows)
    finally:
        await owner.execute("DELETE FROM visits")
        await owner.close()
        await one.dispose()
    assert [float(r["t"]) for r in departed] == [1.7e9, 1.7e9 + 1]  # both closed, no other
    # The whole update, from the plan's top node: a handful of pages, not the tenant's visits
    # (the statement also writes the visits' events, their live feed rows and their indexes).
    hits = re.search(r"Buffers: shared hit=(\d+)", plan)
    assert hits is not None, plan
    assert int(hits.group(1)) < 100, plan


async def test_flagging_points_reads_the_batch_span_not_the_device_day(
    url: str, tenant_id: uuid.UUID
) -> None:
    """The flags of a batch's points, by a plan kept from when the day's partition was empty
    (a connection's first batch with a flag): the join condition alone read every point of the
    device that day, on every later batch with a flag. The batch's span bounds it."""
    owner = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    one = tenant_engine(url, pool_size=1, max_overflow=0)  # one connection throughout
    device = uuid.uuid4()
    try:
        await owner.execute(
            """INSERT INTO devices (tenant_id, id, user_id, name, platform, identifier)
               SELECT tenant_id, $1, id, 'phone', 'android', 'flags' FROM users LIMIT 1""",
            device,
        )
        with tenant_scope(tenant_id):
            async with ingest_connection(one) as db:
                await db.execute(
                    "PREPARE flag_pings (uuid, uuid, uuid[], float8[], text[], float8, float8)"
                    f" AS {FLAG_PINGS}"
                )
                now = "extract(epoch FROM now())"
                await db.execute(
                    f"EXECUTE flag_pings (fieldsense_tenant(), '{device}', '{{}}', '{{}}', '{{}}',"
                    f" {now}, {now})"
                )
        # The device's day so far: 5,000 points, a second apart (the partition's statistics
        # still say empty: the module's fixture analyzed it so).
        await owner.execute(
            """INSERT INTO pings (tenant_id, device_id, client_id, fix_time, received_at, lat, lon,
                                  accuracy_m, mock)
               SELECT tenant_id, $1, gen_random_uuid(),
                      date_trunc('second', now()) - n * interval '1 second', now(), 37.5, 127.0,
                      10, false
               FROM devices, generate_series(1, 5000) n WHERE id = $1""",
            device,
        )
        cid, t = await owner.fetchrow(
            "SELECT client_id, extract(epoch FROM fix_time)::float8 FROM pings"
            " WHERE device_id = $1 ORDER BY fix_time DESC LIMIT 1",
            device,
        )
        with tenant_scope(tenant_id):
            async with ingest_connection(one) as db:
                rows = await db.fetch(
                    "EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) EXECUTE flag_pings"
                    f" (fieldsense_tenant(), '{device}', ARRAY['{cid}']::uuid[], ARRAY[{t!r}],"
                    f" ARRAY['jump'], {t!r}, {t!r})"
                )
                flag = await db.fetchval(
                    "SELECT flag FROM pings WHERE device_id = $1 AND client_id = $2", device, cid
                )
        plan = "\n".join(r[0] for r in rows)
    finally:
        await owner.execute("DELETE FROM pings WHERE device_id = $1", device)
        await owner.execute("DELETE FROM devices WHERE id = $1", device)
        await owner.close()
        await one.dispose()
    assert flag == "jump"  # the kept plan ran, and flagged the point
    hits = re.search(r"Buffers: shared hit=(\d+)", plan)
    assert hits is not None, plan
    assert int(hits.group(1)) < 50, plan
