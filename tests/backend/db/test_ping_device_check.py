"""Points belong to a device that exists (migration 0019): what the foreign key from `pings`
to `devices` did row by row, the triggers do once per statement and device. A point for a
missing device fails its statement with the foreign key's error; deleting a device deletes
its points; a device deleted while its points are being stored waits, then takes them too."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
import pytest_asyncio

from tests.conftest import fresh_database_with_tenant

NOW = datetime.now(UTC).replace(microsecond=0)

INSERT = """INSERT INTO pings (tenant_id, device_id, client_id, fix_time, received_at, lat, lon,
                               accuracy_m)
            SELECT $1, d, gen_random_uuid(), $3, $3, 37.5, 127.0, 10 FROM unnest($2::uuid[]) d"""


@pytest_asyncio.fixture(scope="module")
async def dsn(db_url: str) -> AsyncIterator[str]:
    url = await fresh_database_with_tenant(db_url, "pingdevice")
    yield url.replace("postgresql+asyncpg://", "postgresql://")


async def a_device(db: asyncpg.Connection) -> tuple[uuid.UUID, uuid.UUID]:
    tenant, user = await db.fetchrow("SELECT tenant_id, id FROM users LIMIT 1")
    device = uuid.uuid4()
    await db.execute(
        "INSERT INTO devices (tenant_id, id, user_id, name, identifier, platform) "
        "VALUES ($1, $2, $3, 'phone', $4, 'android')",
        tenant,
        device,
        user,
        str(device),
    )
    return tenant, device


async def points(db: asyncpg.Connection, device: uuid.UUID) -> int:
    return int(await db.fetchval("SELECT count(*) FROM pings WHERE device_id = $1", device))


async def test_points_of_a_missing_device_fail_the_statement(dsn: str) -> None:
    db = await asyncpg.connect(dsn)
    try:
        tenant, device = await a_device(db)
        await db.execute(INSERT, tenant, [device, device], NOW)
        assert await points(db, device) == 2
        ghost = uuid.uuid4()
        with pytest.raises(asyncpg.ForeignKeyViolationError, match="not present"):
            await db.execute(INSERT, tenant, [device, ghost], NOW)
        assert await points(db, device) == 2  # the whole statement failed
        assert await points(db, ghost) == 0
        other_tenant = uuid.uuid4()
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await db.execute(INSERT, other_tenant, [device], NOW)  # the key is both columns
    finally:
        await db.close()


async def test_deleting_a_device_deletes_its_points(dsn: str) -> None:
    db = await asyncpg.connect(dsn)
    try:
        tenant, device = await a_device(db)
        _, kept = await a_device(db)
        await db.execute(INSERT, tenant, [device, device, device, kept], NOW)
        await db.execute("DELETE FROM devices WHERE id = $1", device)
        assert await points(db, device) == 0
        assert await points(db, kept) == 1
    finally:
        await db.close()


async def test_a_device_deleted_while_its_points_are_stored_takes_them(dsn: str) -> None:
    writer, deleter = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
    try:
        tenant, device = await a_device(writer)
        tx = writer.transaction()
        await tx.start()
        await writer.execute(INSERT, tenant, [device] * 3, NOW)  # locks the device row
        delete = asyncio.create_task(deleter.execute("DELETE FROM devices WHERE id = $1", device))
        await asyncio.sleep(0.5)
        assert not delete.done()  # waits for the writer, as with the foreign key
        await tx.commit()
        await asyncio.wait_for(delete, 10)
        assert await points(deleter, device) == 0  # nothing left behind
    finally:
        await writer.close()
        await deleter.close()
