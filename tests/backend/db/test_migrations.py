"""Migrations from empty to head and back down, on a real PostGIS database of their own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from backend.db import migrate
from backend.db.migrate import include_object
from backend.db.models import Base


async def _exec_autocommit(url: str, sql: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(sql))
    await engine.dispose()


async def _tables(url: str) -> set[str]:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        )
        names = {r[0] for r in rows}
        ext = await conn.scalar(text("SELECT count(*) FROM pg_extension WHERE extname = 'postgis'"))
    await engine.dispose()
    return names | ({"<postgis>"} if ext else set())


async def _diff(url: str) -> list[object]:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        diff = await conn.run_sync(
            lambda c: compare_metadata(
                MigrationContext.configure(
                    c, opts={"include_object": include_object, "compare_type": True}
                ),
                Base.metadata,
            )
        )
    await engine.dispose()
    return list(diff)


@pytest.fixture
def empty_db(db_url: str) -> Iterator[str]:
    name = f"fs_mig_{uuid.uuid4().hex[:8]}"
    admin_url = make_url(db_url).set(database="postgres").render_as_string(hide_password=False)
    asyncio.run(_exec_autocommit(admin_url, f'CREATE DATABASE "{name}"'))
    yield make_url(db_url).set(database=name).render_as_string(hide_password=False)
    asyncio.run(_exec_autocommit(admin_url, f'DROP DATABASE "{name}" WITH (FORCE)'))


def test_upgrade_downgrade_upgrade(empty_db: str) -> None:
    # An empty database: nothing of ours (PostGIS may come with it, from a superuser's template).
    before = asyncio.run(_tables(empty_db))
    assert before <= {"<postgis>", "spatial_ref_sys"}
    migrate.upgrade(empty_db)
    tables = asyncio.run(_tables(empty_db))
    assert {"tenants", "org_units", "users", "customers", "geofences", "<postgis>"} <= tables
    assert migrate.current(empty_db) is not None

    migrate.downgrade(empty_db, "base")
    assert asyncio.run(_tables(empty_db)) == before | {"alembic_version"}
    assert migrate.current(empty_db) is None

    migrate.upgrade(empty_db)
    assert asyncio.run(_tables(empty_db)) == tables


def test_models_match_migrations(empty_db: str) -> None:
    """Autogenerate against head finds nothing: the models and migrations agree."""
    migrate.upgrade(empty_db)
    assert asyncio.run(_diff(empty_db)) == []
