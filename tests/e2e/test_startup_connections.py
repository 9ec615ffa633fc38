"""A serving process opens and readies pooled connections before the first request
(backend/app.py `warm_connections`, backend/tracking/ingest.py `warm`)."""

from __future__ import annotations

import contextlib
import logging

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from backend.app import warm_connections
from backend.db.tenancy import driver_of, tenant_engine
from backend.embedded_db import free_port

TABLES = ("pings", "events", "visits", "device_states", "device_checkpoints")


async def _counts(url: str) -> dict[str, int]:
    db = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return {t: await db.fetchval(f"SELECT count(*) FROM {t}") for t in TABLES}  # noqa: S608 - names fixed in the test
    finally:
        await db.close()


async def test_the_pools_hold_connections_with_the_upload_statements_prepared(
    db_url: str,
) -> None:
    engine = tenant_engine(db_url, pool_size=5, max_overflow=0, pool_use_lifo=True)
    system = create_async_engine(db_url, pool_size=5, max_overflow=0, pool_use_lifo=True)
    before = await _counts(db_url)
    try:
        await warm_connections(engine, system, 3)
        assert engine.pool.checkedin() == 3  # type: ignore[attr-defined]
        assert system.pool.checkedin() == 3  # type: ignore[attr-defined]
        async with contextlib.AsyncExitStack() as held:  # the three, each on its own
            for _ in range(3):
                conn = await held.enter_async_context(engine.connect())
                raw = await driver_of(conn)
                prepared = await raw.fetch("SELECT statement FROM pg_prepared_statements")
                text = "\n".join(r["statement"] for r in prepared)
                for part in ("fieldsense_fence_near", "INSERT INTO pings", "INSERT INTO events"):
                    assert part in text, text
                assert not raw.is_in_transaction()
    finally:
        await engine.dispose()
        await system.dispose()
    assert await _counts(db_url) == before  # nothing written


async def test_a_database_not_there_yet_is_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    nowhere = f"postgresql+asyncpg://nobody@127.0.0.1:{free_port()}/nothing"
    engine = tenant_engine(nowhere, pool_size=2, max_overflow=0)
    system = create_async_engine(nowhere, pool_size=2, max_overflow=0)
    try:
        with caplog.at_level(logging.WARNING):
            await warm_connections(engine, system, 2)
    finally:
        await engine.dispose()
        await system.dispose()
    assert "could not ready database connections" in caplog.text
