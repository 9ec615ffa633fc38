"""The asyncpg connection under SQLAlchemy, for the queries that run on the driver: raw SQL on
a hot path, or what the ORM has no words for.

- `raw_connection(session)`: the driver connection inside an ORM session's transaction;
- `driver_transaction(engine)`: a pooled driver connection in a transaction of its own,
  opened in one round trip with the tenant (row-level security, backend/db/tenancy.py) and
  any transaction-local settings its caller wants (the ingest's plan settings:
  backend/tracking/ingest.py), and never handed back to the pool in an unknown state.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from backend.db.tenancy import TENANT_SETTING, driver_of, tenant_setting

_NAME = re.compile(r"[a-z_][a-z0-9_.]*")
_VALUE = re.compile(r"[A-Za-z0-9_.-]*")


async def raw_connection(session: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection under a session, inside the session's transaction."""
    return await driver_of(await session.connection())


def opening(tenant: uuid.UUID | None, settings: Mapping[str, str] | None = None) -> str:
    """`BEGIN` and the transaction-local settings, as one simple query (one round trip). A
    simple query takes no parameters, so the values are literals: the tenant is a UUID, and
    names and values are checked to be plain words."""
    values = {**(settings or {}), TENANT_SETTING: str(tenant or "")}
    for name, value in values.items():
        if not _NAME.fullmatch(name) or not _VALUE.fullmatch(value):
            raise ValueError(f"not a plain setting: {name}={value!r}")
    calls = ", ".join(f"set_config('{name}', '{value}', true)" for name, value in values.items())
    return f"BEGIN; SELECT {calls}"


@asynccontextmanager
async def transaction_on(
    db: asyncpg.Connection, tenant: uuid.UUID | None, settings: Mapping[str, str] | None = None
) -> AsyncIterator[None]:
    """A transaction on a driver connection: opened and set up in one round trip
    (`opening`), committed when the block ends cleanly, else rolled back."""
    await db.execute(opening(tenant, settings))
    try:
        yield
    except BaseException:
        if not db.is_closed():
            await db.execute("ROLLBACK")
        raise
    await db.execute("COMMIT")


@asynccontextmanager
async def driver_transaction(
    engine: AsyncEngine, settings: Mapping[str, str] | None = None
) -> AsyncIterator[asyncpg.Connection]:
    """A pooled asyncpg connection in a transaction of the current tenant (committed when the
    block ends cleanly), with `settings` set for the transaction."""
    async with engine.connect() as conn:
        driver = await driver_of(conn)
        tenant = tenant_setting()
        try:
            async with transaction_on(driver, uuid.UUID(tenant) if tenant else None, settings):
                yield driver
        except (
            OSError,
            asyncpg.PostgresConnectionError,
            asyncpg.InterfaceError,
            asyncpg.exceptions.InternalClientError,
        ):
            # The connection broke under us (the database went away): SQLAlchemy did not see
            # it happen, so tell the pool, or it would hand the broken connection out again.
            await conn.invalidate()
            raise
        except asyncio.CancelledError:
            # Cancelled mid-statement (even the BEGIN, before the block could roll back):
            # the connection's state is unknown, so it is closed, never pooled.
            if not conn.invalidated:
                await asyncio.shield(conn.invalidate())
            raise
        finally:
            # Cancelled between the BEGIN and its COMMIT or ROLLBACK (a task cancelled while
            # it recorded a result): SQLAlchemy does not know of the raw transaction and
            # would pool the connection still inside it, where the next user's own BEGIN
            # fails ("cannot use Connection.transaction() in a manually started
            # transaction"). Such a connection is closed instead.
            if not conn.invalidated and not driver.is_closed() and driver.is_in_transaction():
                await asyncio.shield(conn.invalidate())
