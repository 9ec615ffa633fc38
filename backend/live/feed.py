"""Writing to the live feed, in the producer's own transaction.

A row written here is unnumbered until its transaction commits; then a hub numbers it (the
tenant's `seq`, gapless, in the order rows became visible: numbering.py) and every API
process's hub hears of it through `NOTIFY fieldsense_live`; a rolled-back transaction leaves
nothing. Producers: the ingest (an agent's newest position, one a device a batch), a visit's
events (backend/tracking/announce.py), a stored plan (backend/plans/store.py), a coaching
note.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.driver import raw_connection
from backend.db.models import LiveEvent

CHANNEL = "fieldsense_live"

# The feed keeps a day (`forget_live_events`): a stream that reconnects after longer is told
# to start again (a `reset` event), and location data is kept no longer than needed.
KEEP = timedelta(days=1)

_FORGET = "DELETE FROM live_events WHERE at < $1"


def entry(
    tenant_id: uuid.UUID,
    kind: str,
    data: dict[str, Any],
    *,
    agent_id: uuid.UUID | None,
    device_id: uuid.UUID | None = None,
) -> LiveEvent:
    """One entry as a row for an ORM session (`session.add`), written with its flush."""
    return LiveEvent(
        tenant_id=tenant_id, kind=kind, agent_id=agent_id, device_id=device_id, data=data
    )


def into_feed(rows: str) -> str:
    """A data-modifying CTE body that writes `rows` (a relation with the columns `tenant_id,
    kind, agent_id, device_id, data`) to the feed: for producers that record their events in
    one statement (a visit's events)."""
    return (
        "INSERT INTO live_events (tenant_id, kind, agent_id, device_id, data) "  # noqa: S608 - a relation from code
        f"SELECT tenant_id, kind, agent_id, device_id, data FROM {rows}"
    )


def forget_positions(tenant: str, agent: str) -> str:
    """A data-modifying CTE body: delete the agent's positions from the feed (an erasure of
    their location history); `tenant` and `agent` are the statement's placeholders."""
    return (
        f"DELETE FROM live_events WHERE tenant_id = {tenant} AND agent_id = {agent}"  # noqa: S608 - placeholders from code
        " AND kind = 'position' RETURNING 1"
    )


async def forget_live_events(session: AsyncSession, now: datetime) -> int:
    """The feed's entries older than `KEEP` (a job); how many were deleted."""
    db = await raw_connection(session)
    status = await db.execute(_FORGET, now - KEEP)
    return int(status.rsplit(" ", 1)[-1])
