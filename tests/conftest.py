"""Test fixtures: a throwaway PostGIS the suite starts itself, migrated once per session.

Set TEST_DATABASE_URL to use an existing empty PostGIS database instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
import uvicorn
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from backend.app import create_app
from backend.config import Settings, server_options
from backend.db import migrate
from backend.embedded_db import EmbeddedPostgres, free_port
from backend.tenants.services import create_tenant
from tests.backend.world import Tenant, make_tenant

TEST_SECRET = "test-secret-" + "x" * 32


@pytest.fixture(scope="session")
def pg() -> Iterator[EmbeddedPostgres | None]:
    if os.environ.get("TEST_DATABASE_URL"):
        yield None
        return
    root = Path(tempfile.mkdtemp(prefix="fieldsense-test-"))
    cluster = EmbeddedPostgres(root)
    cluster.start(fsync=False)
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture(scope="session")
def db_url(pg: EmbeddedPostgres | None) -> str:
    url = os.environ.get("TEST_DATABASE_URL") or (pg.url if pg else "")
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session")
def settings(db_url: str) -> Settings:
    # Jobs are run by the tests that test them, at the times they choose.
    # Webhook targets: the test receivers listen on loopback over plain HTTP.
    return Settings(
        database_url=db_url,
        secret=TEST_SECRET,
        token_ttl_s=3600,
        jobs=False,
        webhook_require_https=False,
        webhook_allow_networks=("127.0.0.0/8",),
        webhook_timeout_s=2.0,
        # Travel on the straight line unless a test serves a road network (tests/backend/roads).
        roads=False,
    )


@pytest.fixture(scope="session")
def app(settings: Settings) -> Litestar:
    return create_app(settings)


async def fresh_database(db_url: str, prefix: str) -> str:
    """A new, migrated database in the test cluster, for tests whose processes must see no
    other test's data (jobs that run on everything, a demo that seeds its own tenant)."""
    url = make_url(db_url)
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        database=url.database,
    )
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    fresh = url.set(database=name).render_as_string(hide_password=False)
    await asyncio.to_thread(migrate.upgrade, fresh)
    return fresh


async def fresh_database_with_tenant(db_url: str, slug: str) -> str:
    """`fresh_database` holding one tenant (and its admin), for tests that talk to PostgreSQL
    directly."""
    url = await fresh_database(db_url, slug)
    eng = create_async_engine(url)
    async with AsyncSession(eng, expire_on_commit=False) as session, session.begin():
        await create_tenant(
            session, slug=slug, name=slug, admin_email=f"a@{slug}.test", admin_password="x" * 12
        )
    await eng.dispose()
    return url


@contextlib.contextmanager
def serve(settings: Settings, log_level: str = "warning") -> Iterator[str]:
    """The API built from `settings` over real HTTP on loopback, in a thread; yields its URL."""
    with serve_app(create_app(settings), log_level) as url:
        yield url


@contextlib.contextmanager
def serve_app(app: Litestar, log_level: str = "warning") -> Iterator[str]:
    """An app over real HTTP on loopback, in a thread (requests really at once); its URL."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level=log_level,
        lifespan="on",
        **server_options(app.state.get("settings") or Settings(database_url="", secret="")),
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not srv.started:
        assert time.time() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def live_server(settings: Settings) -> Iterator[str]:
    """The API over real HTTP on loopback (for browsers and simulated phones), in a thread."""
    with serve(settings) as url:
        yield url


@pytest_asyncio.fixture(scope="session")
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app) as c:
        yield c


@pytest_asyncio.fixture(scope="session")
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_async_engine(db_url)
    yield eng
    await eng.dispose()


@pytest_asyncio.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session whose work commits, for setting up data the API then reads."""
    async with AsyncSession(engine, expire_on_commit=False) as s:
        yield s


# Tenants built through the real API, shared by the tests of one module (tests/backend/world.py).
@pytest_asyncio.fixture(scope="module")
async def tenant(client: AsyncTestClient[Litestar], engine: AsyncEngine) -> Tenant:
    async with AsyncSession(engine, expire_on_commit=False) as session:
        return await make_tenant(client, session)


@pytest_asyncio.fixture(scope="module")
async def other_tenant(client: AsyncTestClient[Litestar], engine: AsyncEngine) -> Tenant:
    async with AsyncSession(engine, expire_on_commit=False) as session:
        return await make_tenant(client, session)
