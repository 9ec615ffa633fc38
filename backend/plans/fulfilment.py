"""Plan stops fulfilled by the visits detected (or checked in) for them; when an agent's
customers with a cadence were last seen (week plans).

The visits are the tracking domain's, and tracking reads plans (a planned stop is evidence of
where an agent was), so this domain does not import it: a `Fulfilment` is made from the
relation of the visits that stand, which tracking provides
(`backend.tracking.queries.plan_fulfilment`), where the app is wired (backend/app.py)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.customers.queries import customers

_FULFIL = """
UPDATE plan_stops ps SET status = 'fulfilled', visit_id = v.id
FROM plans p, {visits} v
WHERE ps.status = 'planned' AND p.tenant_id = ps.tenant_id AND p.id = ps.plan_id
  AND (CAST(:plans AS uuid[]) IS NULL OR (ps.tenant_id = :tenant AND ps.plan_id = ANY(:plans)))
  AND (CAST(:now AS timestamptz) IS NULL
       OR (p.status = 'active' AND p.depart_at < :now AND p.arrive_at > :now - interval '1 day'))
  AND v.tenant_id = ps.tenant_id AND v.agent_id = p.agent_id AND v.customer_id = ps.customer_id
  AND v.arrived_at >= p.depart_at - interval '2 hours'
  AND v.arrived_at < p.arrive_at + interval '2 hours'
"""

_UNFULFIL = """
UPDATE plan_stops ps SET status = 'planned', visit_id = NULL
FROM {visits} v
WHERE ps.tenant_id = :tenant AND ps.visit_id = :visit AND ps.status = 'fulfilled'
  AND v.tenant_id = ps.tenant_id AND v.id = ps.visit_id
  AND v.customer_id IS DISTINCT FROM ps.customer_id
RETURNING ps.plan_id
"""

_PLANS_OF_VISIT = """
SELECT p.id FROM plans p JOIN {visits} v ON v.tenant_id = p.tenant_id AND v.agent_id = p.agent_id
WHERE p.tenant_id = :tenant AND v.id = :visit AND p.status = 'active'
  AND v.arrived_at >= p.depart_at - interval '2 hours'
  AND v.arrived_at < p.arrive_at + interval '2 hours'
"""


# The customers with a cadence (their own, or their segment's), of one agent's book, and when
# each was last seen: the last visit that stands, or the last contact on record.
_CADENCED = """
SELECT c.id, c.name, ST_Y(c.location::geometry) AS lat, ST_X(c.location::geometry) AS lon,
       c.life_stage, c.preferred_hours, c.cadence,
       GREATEST(c.last_contact_at,
                (SELECT max(v.arrived_at) FROM {visits} v
                  WHERE v.tenant_id = c.tenant_id AND v.customer_id = c.id)) AS last_seen
FROM {customers} c
WHERE c.tenant_id = :tenant AND c.assigned_agent_id = :agent AND NOT c.do_not_visit
  AND (c.cadence IS NOT NULL OR coalesce(c.life_stage, 'unknown') = ANY(:segments))
ORDER BY c.id
"""


def _over(statement: str, visits: str) -> TextClause:
    return text(statement.replace("{visits}", visits))


class Fulfilment:
    """Which planned stops the visits fulfil. `visits`: the relation of the visits that
    stand (every column of a visit), as a subquery to alias."""

    def __init__(self, visits: str) -> None:
        self.fulfil = _over(_FULFIL, visits)
        self.unfulfil = _over(_UNFULFIL, visits)
        self.plans_of_visit = _over(_PLANS_OF_VISIT, visits)
        self.last_seen = _over(_CADENCED.replace("{customers}", customers()), visits)

    async def sync(
        self, session: AsyncSession, tenant_id: uuid.UUID, plan_ids: Sequence[uuid.UUID]
    ) -> int:
        """Mark the planned stops of these plans fulfilled by the visits made for them."""
        result = await session.execute(
            self.fulfil, {"tenant": tenant_id, "plans": list(plan_ids), "now": None}
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def under_way(self, session: AsyncSession, now: datetime) -> int:
        """Mark the planned stops of every tenant's plans under way fulfilled (a job)."""
        result = await session.execute(self.fulfil, {"tenant": None, "plans": None, "now": now})
        return int(getattr(result, "rowcount", 0) or 0)

    async def cadenced(
        self,
        session: AsyncSession,
        tenant_id: uuid.UUID,
        agent_id: uuid.UUID,
        segments: Sequence[str],
    ) -> list[dict[str, Any]]:
        """The agent's customers with a cadence of their own or of their segment (one of
        `segments`), each with `last_seen` (None: never)."""
        rows = await session.execute(
            self.last_seen, {"tenant": tenant_id, "agent": agent_id, "segments": list(segments)}
        )
        return [dict(r._mapping) for r in rows]

    async def refulfil(
        self, session: AsyncSession, tenant_id: uuid.UUID, visit_id: uuid.UUID
    ) -> None:
        """A visit reassigned to another customer: the stop it fulfilled is planned again,
        and the new customer's stop in the agent's plans of that day is fulfilled by it."""
        params = {"tenant": tenant_id, "visit": visit_id}
        await session.execute(self.unfulfil, params)
        plans = [r[0] for r in await session.execute(self.plans_of_visit, params)]
        if plans:
            await self.sync(session, tenant_id, plans)
