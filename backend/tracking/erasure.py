"""Erasure of one user's location history: their devices' points, scans, presence events and
engine states, the webhook deliveries that would still carry those events, their positions in
the live feed, and the positions on their visits (the visits stay). Admins only, and recorded
in the audit log."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.security import Principal
from backend.db.driver import raw_connection
from backend.db.models import User
from backend.errors import Forbidden, NotFound
from backend.live.feed import forget_positions
from backend.privacy.services import audit
from backend.webhooks.outbox import deliveries_of


class Erased(BaseModel):
    """What was removed (rows), and what was kept without its position."""

    user_id: uuid.UUID
    devices: int
    points: int
    scans: int
    events: int
    webhook_deliveries: int
    engine_states: int
    visits_stripped: int
    live_positions: int


# One statement, one transaction: the points, scans and presence events of every device the
# user has had, the engine's state and checkpoints for them, the webhook deliveries that would
# still carry those events, and the positions recorded on the user's visits (the visits stay:
# that a customer was met, and when, is the business's record; where the phone was is not).
ERASE = f"""
WITH devs AS (
    SELECT id FROM devices WHERE tenant_id = $1 AND user_id = $2
), p AS (
    DELETE FROM pings WHERE tenant_id = $1 AND device_id IN (SELECT id FROM devs) RETURNING 1
), s AS (
    DELETE FROM scans WHERE tenant_id = $1 AND device_id IN (SELECT id FROM devs) RETURNING 1
), e AS (
    DELETE FROM events WHERE tenant_id = $1
       AND (user_id = $2 OR device_id IN (SELECT id FROM devs)) RETURNING id
), w AS (
    {deliveries_of("e")}
), st AS (
    DELETE FROM device_states WHERE tenant_id = $1 AND device_id IN (SELECT id FROM devs)
    RETURNING 1
), cp AS (
    DELETE FROM device_checkpoints WHERE tenant_id = $1 AND device_id IN (SELECT id FROM devs)
    RETURNING 1
), lf AS (
    {forget_positions("$1", "$2")}
), v AS (
    UPDATE visits SET lat = NULL, lon = NULL, accuracy_m = NULL
    WHERE tenant_id = $1 AND agent_id = $2 AND (lat IS NOT NULL OR accuracy_m IS NOT NULL)
    RETURNING 1
)
SELECT (SELECT count(*) FROM devs) AS devices, (SELECT count(*) FROM p) AS points,
       (SELECT count(*) FROM s) AS scans, (SELECT count(*) FROM e) AS events,
       (SELECT count(*) FROM w) AS webhook_deliveries,
       (SELECT count(*) FROM st) + (SELECT count(*) FROM cp) AS engine_states,
       (SELECT count(*) FROM v) AS visits_stripped, (SELECT count(*) FROM lf) AS live_positions
"""  # noqa: S608 - the webhooks and live domains' fragments


async def erase_location_history(session: AsyncSession, p: Principal, user_id: uuid.UUID) -> Erased:
    """Admins only; the erasure itself is recorded in the audit log (without any location)."""
    if not p.is_admin:
        raise Forbidden("only an admin can erase a user's location history")
    user = await session.scalar(
        select(User).where(User.tenant_id == p.tenant_id, User.id == user_id)
    )
    if user is None:
        raise NotFound("no such user")
    db = await raw_connection(session)
    row = await db.fetchrow(ERASE, p.tenant_id, user_id)
    counts: dict[str, Any] = dict(row)
    await audit(session, p, "erase_location_history", user_id, counts)
    return Erased(user_id=user_id, **counts)
