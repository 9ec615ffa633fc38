"""Row-level security, the second wall between tenants (backend/db/tenancy.py, migration 0009).

The API's own engine is used the way a request uses it, with queries that "forget" their
tenant filter on purpose: they must still see and change only the tenant the connection
carries, and nothing at all when it carries none.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from backend.db.tenancy import APP_ROLE, tenant_engine, tenant_scope
from tests.backend.world import Tenant, make_tenant


@pytest_asyncio.fixture(scope="module")
async def app_engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    eng = tenant_engine(db_url, pool_size=2)
    yield eng
    await eng.dispose()


@pytest_asyncio.fixture(scope="module")
async def two(client: AsyncTestClient[Litestar], engine: AsyncEngine) -> tuple[Tenant, Tenant]:
    tenants = []
    for _ in range(2):
        async with AsyncSession(engine, expire_on_commit=False) as session:
            t = await make_tenant(client, session)
        for i in range(3):
            await t.post("admin", "/customers", {"name": f"c{i}", "lat": 37.5, "lon": 127.0})
        tenants.append(t)
    return tenants[0], tenants[1]


async def test_every_tenant_table_has_a_policy(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        tables = (
            await conn.execute(
                text(
                    """SELECT c.relname, c.relrowsecurity,
                              EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid
                                      AND :role = ANY (SELECT rolname FROM pg_roles
                                                       WHERE oid = ANY (p.polroles))) AS policy
                       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                       WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
                         AND NOT c.relispartition
                         AND (c.relname = 'tenants' OR EXISTS (
                              SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                              AND a.attname = 'tenant_id' AND NOT a.attisdropped))"""
                ),
                {"role": APP_ROLE},
            )
        ).all()
    assert len(tables) >= 25
    unguarded = [r.relname for r in tables if not (r.relrowsecurity and r.policy)]
    assert unguarded == []
    # Partitions (of pings) carry no policy of their own: the app role cannot touch them
    # except through their parent, where the policy applies.
    async with engine.connect() as conn:
        parts = (
            await conn.execute(
                text(
                    """SELECT c.relname, has_table_privilege(:role, c.oid, 'SELECT')
                              OR has_table_privilege(:role, c.oid, 'INSERT')
                              OR has_table_privilege(:role, c.oid, 'UPDATE')
                              OR has_table_privilege(:role, c.oid, 'DELETE') AS reachable
                       FROM pg_class c WHERE c.relispartition AND c.relkind = 'r'"""
                ),
                {"role": APP_ROLE},
            )
        ).all()
    assert parts and [p.relname for p in parts if p.reachable] == []


async def test_a_query_that_forgets_its_filter_sees_only_its_tenant(
    app_engine: AsyncEngine, two: tuple[Tenant, Tenant]
) -> None:
    a, b = two
    unfiltered = text("SELECT DISTINCT tenant_id FROM customers")
    for t in (a, b):
        with tenant_scope(t.id):
            async with app_engine.connect() as conn:
                seen = {r[0] for r in await conn.execute(unfiltered)}
                users = {r[0] for r in await conn.execute(text("SELECT tenant_id FROM users"))}
                tenants = {r[0] for r in await conn.execute(text("SELECT id FROM tenants"))}
        assert seen == users == tenants == {t.id}
    # No tenant on the connection (no authenticated caller): nothing at all.
    async with app_engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM customers"))).scalar() == 0
        assert (await conn.execute(text("SELECT count(*) FROM tenants"))).scalar() == 0


async def test_writes_cannot_cross_either(
    app_engine: AsyncEngine, engine: AsyncEngine, two: tuple[Tenant, Tenant]
) -> None:
    a, b = two
    with tenant_scope(a.id):
        async with app_engine.begin() as conn:
            # An update and a delete with no tenant filter touch only the caller's tenant.
            renamed = await conn.execute(text("UPDATE customers SET phone = '010'"))
            assert renamed.rowcount == 3
            gone = await conn.execute(text("DELETE FROM customers WHERE name = 'c2'"))
            assert gone.rowcount == 1
        # Writing a row into another tenant is refused by the policy's check.
        with pytest.raises(DBAPIError, match="row-level security"):
            async with app_engine.begin() as conn:
                await conn.execute(
                    text(
                        """INSERT INTO customers (id, tenant_id, org_unit_id, name, status, location)
                           VALUES (:id, :t, :u, 'planted', 'prospect',
                                   ST_SetSRID(ST_MakePoint(127, 37.5), 4326))"""
                    ),
                    {"id": uuid.uuid4(), "t": b.id, "u": b.units["HQ"]},
                )
        # Nor can a row be moved into it.
        with pytest.raises(DBAPIError, match="row-level security"):
            async with app_engine.begin() as conn:
                await conn.execute(text("UPDATE customers SET tenant_id = :t"), {"t": b.id})
    async with engine.connect() as conn:  # the owner sees everything: b is untouched
        rows = (
            await conn.execute(
                text(
                    "SELECT tenant_id, count(*), count(phone) FROM customers "
                    "WHERE tenant_id IN (:a, :b) GROUP BY 1"
                ),
                {"a": a.id, "b": b.id},
            )
        ).all()
    assert {r[0]: (r[1], r[2]) for r in rows} == {a.id: (2, 2), b.id: (3, 0)}
