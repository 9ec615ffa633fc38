"""A task cancelled inside a driver transaction never hands the pool a connection that is
still in that transaction (found as a CI failure: a webhook delivery cancelled at shutdown,
then every later test's BEGIN failed on the pooled connection)."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from backend.db.driver import driver_transaction


@pytest.mark.parametrize("cancel_after_s", [0.0, 0.001, 0.01, 0.2])
async def test_a_cancelled_transaction_is_not_pooled(db_url: str, cancel_after_s: float) -> None:
    # One connection in the pool: whatever the cancelled task leaves is what comes next.
    url = db_url.replace("postgresql://", "postgresql+asyncpg://", 1)
    engine: AsyncEngine = create_async_engine(url, pool_size=1, max_overflow=0)
    try:

        async def hold() -> None:
            async with driver_transaction(engine) as db:
                await db.execute("CREATE TEMP TABLE IF NOT EXISTS held (x int)")
                await db.execute("SELECT pg_sleep(5)")

        task = asyncio.create_task(hold())
        await asyncio.sleep(cancel_after_s)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        async with engine.begin() as conn:
            assert (await conn.execute(text("SELECT 1"))).scalar() == 1
        async with driver_transaction(engine) as db:
            assert await db.fetchval("SELECT 2") == 2
    finally:
        await engine.dispose()


async def test_cancelled_as_the_begin_answers(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cancellation lands while the opening BEGIN's answer comes back: the transaction is
    open on the server and the block never ran, so nothing rolls it back."""
    from backend.db import driver

    @contextlib.asynccontextmanager
    async def cancelled_after_begin(db, tenant, settings):  # type: ignore[no-untyped-def]
        await db.execute(driver.opening(tenant, settings))
        raise asyncio.CancelledError
        yield  # pragma: no cover

    url = db_url.replace("postgresql://", "postgresql+asyncpg://", 1)
    engine: AsyncEngine = create_async_engine(url, pool_size=1, max_overflow=0)
    monkeypatch.setattr(driver, "transaction_on", cancelled_after_begin)
    try:
        with pytest.raises(asyncio.CancelledError):
            async with driver_transaction(engine):
                pass
        monkeypatch.undo()
        async with engine.begin() as conn:
            assert (await conn.execute(text("SELECT 1"))).scalar() == 1
    finally:
        await engine.dispose()
