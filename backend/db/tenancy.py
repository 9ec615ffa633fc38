"""The second wall between tenants: PostgreSQL row-level security.

Every query a request makes runs as the role `fieldsense_app` (set when the connection opens),
and every transaction it opens carries the tenant of the request in the transaction-local
setting `fieldsense.tenant_id` (SQLAlchemy's `begin` event; the ingest hot path, which opens
its transactions on the driver, sets it with its other per-transaction settings). The
policies (migration 0009) let that role see and write only rows whose `tenant_id` is that
setting. A query that forgets its tenant filter still sees only its tenant; a transaction
with no tenant (no authenticated caller) sees no rows.

Work that spans tenants on purpose (the job runner, the webhook worker, finding who is calling
from a login, a token or an API key) uses the system engine: the schema owner's connections,
which the policies do not restrict.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import asyncpg
from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

APP_ROLE = "fieldsense_app"
TENANT_SETTING = "fieldsense.tenant_id"

current_tenant: ContextVar[uuid.UUID | None] = ContextVar("fieldsense_tenant", default=None)


@contextmanager
def tenant_scope(tenant_id: uuid.UUID | None) -> Iterator[None]:
    """Transactions begun inside see `tenant_id`'s rows only (None: no rows)."""
    token = current_tenant.set(tenant_id)
    try:
        yield
    finally:
        current_tenant.reset(token)


# Short queries, many times a second: compiling them (JIT) costs far more than running them,
# and the estimates under row-level security can cross the JIT threshold (430 ms a batch).
NO_JIT = {"jit": "off"}

SET_TENANT = f"SELECT set_config('{TENANT_SETTING}', $1, true)"


def tenant_setting() -> str:
    tenant = current_tenant.get()
    return str(tenant) if tenant else ""


async def driver_of(conn: AsyncConnection) -> asyncpg.Connection:
    """The asyncpg connection under a pooled SQLAlchemy connection (for raw queries on a hot
    path, or ones the ORM has no words for)."""
    raw = await conn.get_raw_connection()
    driver: asyncpg.Connection = raw.driver_connection
    return driver


def tenant_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An engine whose connections run as the app role and whose transactions carry the
    current tenant."""
    connect_args = dict(kwargs.pop("connect_args", {}))
    settings = {**connect_args.get("server_settings", {}), "role": APP_ROLE, **NO_JIT}
    connect_args["server_settings"] = settings
    engine = create_async_engine(url, connect_args=connect_args, **kwargs)

    @event.listens_for(engine.sync_engine, "begin")
    def _carry_tenant(connection: Any) -> None:
        # Transaction-local: it ends with the transaction, so a pooled connection never
        # carries one request's tenant into the next.
        connection.exec_driver_sql(SET_TENANT, (tenant_setting(),))

    return engine


def drop_closed_connections(engine: AsyncEngine) -> AsyncEngine:
    """Hand out no pooled connection the server has closed (a restart, a terminated backend).

    The check is the driver's own flag, set when the socket closed: free, where the pool's
    pre-ping costs a round trip on every checkout (two per ingest request). A connection
    that breaks while in use is invalidated where the error surfaces (backend/errors.py,
    backend/tracking/ingest.py) and the request answers 503.
    """

    @event.listens_for(engine.sync_engine, "checkout")
    def _alive(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        if dbapi_connection.driver_connection.is_closed():
            raise exc.DisconnectionError("the server closed this connection")

    return engine
