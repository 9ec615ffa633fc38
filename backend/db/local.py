"""The database the commands use: DATABASE_URL when given, else the embedded cluster under
the data directory; and one-transaction work on it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from backend.config import DATA_DIR, Settings
from backend.embedded_db import EmbeddedPostgres, EmbeddedReplica

T = TypeVar("T")


def embedded() -> EmbeddedPostgres:
    # The database password lives beside the JWT secret (backend/config.py), both 0600.
    return EmbeddedPostgres(Path(DATA_DIR) / "pg", secret_file=Path(DATA_DIR) / "db-secret")


def embedded_replica() -> EmbeddedReplica:
    """The embedded cluster's hot standby, under .data/pg-replica (`fieldsense db replica`)."""
    return EmbeddedReplica(Path(DATA_DIR) / "pg-replica", primary=embedded())


def database_url(start: bool = True) -> str:
    """DATABASE_URL when given; otherwise the embedded cluster (started when asked)."""
    url = Settings.from_env().database_url
    if url:
        return url
    pg = embedded()
    if start:
        pg.start()
    return pg.url


def run_in_session(url: str, fn: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `fn` in one transaction that commits when it returns."""

    async def _go() -> T:
        engine = create_async_engine(url)
        try:
            async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
                return await fn(session)
        finally:
            await engine.dispose()

    return asyncio.run(_go())
