"""The second wall between tenants: PostgreSQL row-level security.

Every query a request makes runs as the role `fieldsense_app` (set when the connection opens),
and every connection, when the pool hands it out, carries the tenant of the request in the
setting `fieldsense.tenant_id`. The policies (migration 0009) let that role see and write only
rows whose `tenant_id` is that setting. A query that forgets its tenant filter still sees only
its tenant; a connection handed out with no tenant (no authenticated caller) sees no rows.

Work that spans tenants on purpose (the job runner, the webhook worker, finding the tenant of a
login or an API key) uses the system engine: the schema owner's connections, which the
policies do not restrict.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

try:  # SQLAlchemy 2.1
    from sqlalchemy.util.concurrency import await_
except ImportError:  # pragma: no cover - SQLAlchemy 2.0
    from sqlalchemy.util import await_only as await_

APP_ROLE = "fieldsense_app"
TENANT_SETTING = "fieldsense.tenant_id"

current_tenant: ContextVar[uuid.UUID | None] = ContextVar("fieldsense_tenant", default=None)


@contextmanager
def tenant_scope(tenant_id: uuid.UUID | None) -> Iterator[None]:
    """Connections checked out inside see `tenant_id`'s rows only (None: no rows)."""
    token = current_tenant.set(tenant_id)
    try:
        yield
    finally:
        current_tenant.reset(token)


def tenant_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An engine whose connections run as the app role and carry the current tenant."""
    connect_args = dict(kwargs.pop("connect_args", {}))
    settings = {**connect_args.get("server_settings", {}), "role": APP_ROLE}
    connect_args["server_settings"] = settings
    engine = create_async_engine(url, connect_args=connect_args, **kwargs)

    @event.listens_for(engine.sync_engine, "checkout")
    def _carry_tenant(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        # On the driver's connection, outside any transaction: through SQLAlchemy's cursor
        # this would open the transaction the caller's own work then runs inside.
        tenant = current_tenant.get()
        await_(
            dbapi_connection.driver_connection.execute(
                f"SELECT set_config('{TENANT_SETTING}', $1, false)", str(tenant) if tenant else ""
            )
        )

    return engine
