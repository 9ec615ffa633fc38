"""Plan stops fulfilled by the visits detected (or checked in) for them.

The visits are the tracking domain's, and tracking reads plans (a planned stop is evidence of
where an agent was), so this domain does not import it: a `Fulfilment` is made from the
relation of the visits that stand, which tracking provides
(`backend.tracking.queries.plan_fulfilment`), where the app is wired (backend/app.py)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession

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


def _over(statement: str, visits: str) -> TextClause:
    return text(statement.replace("{visits}", visits))


class Fulfilment:
    """Which planned stops the visits fulfil. `visits`: the relation of the visits that
    stand (every column of a visit), as a subquery to alias."""

    def __init__(self, visits: str) -> None:
        self.fulfil = _over(_FULFIL, visits)
        self.unfulfil = _over(_UNFULFIL, visits)
        self.plans_of_visit = _over(_PLANS_OF_VISIT, visits)

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
