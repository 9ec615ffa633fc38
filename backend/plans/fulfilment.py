"""Plan stops fulfilled by the visits detected (or checked in) for them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

FULFIL = text(
    """
UPDATE plan_stops ps SET status = 'fulfilled', visit_id = v.id
FROM plans p, visits v
WHERE ps.status = 'planned' AND p.tenant_id = ps.tenant_id AND p.id = ps.plan_id
  AND (CAST(:plans AS uuid[]) IS NULL OR (ps.tenant_id = :tenant AND ps.plan_id = ANY(:plans)))
  AND (CAST(:now AS timestamptz) IS NULL
       OR (p.status = 'active' AND p.depart_at < :now AND p.arrive_at > :now - interval '1 day'))
  AND v.tenant_id = ps.tenant_id AND v.agent_id = p.agent_id AND v.customer_id = ps.customer_id
  AND v.retracted_at IS NULL
  AND v.arrived_at >= p.depart_at - interval '2 hours'
  AND v.arrived_at < p.arrive_at + interval '2 hours'
"""
)


async def sync_fulfilment(
    session: AsyncSession, tenant_id: uuid.UUID, plan_ids: Sequence[uuid.UUID]
) -> int:
    """Mark planned stops fulfilled by the visits detected (or checked in) for them."""
    result = await session.execute(
        FULFIL, {"tenant": tenant_id, "plans": list(plan_ids), "now": None}
    )
    return int(getattr(result, "rowcount", 0) or 0)


UNFULFIL = text(
    """
UPDATE plan_stops ps SET status = 'planned', visit_id = NULL
FROM visits v
WHERE ps.tenant_id = :tenant AND ps.visit_id = :visit AND ps.status = 'fulfilled'
  AND v.tenant_id = ps.tenant_id AND v.id = ps.visit_id
  AND v.customer_id IS DISTINCT FROM ps.customer_id
RETURNING ps.plan_id
"""
)

PLANS_OF_VISIT = text(
    """
SELECT p.id FROM plans p JOIN visits v ON v.tenant_id = p.tenant_id AND v.agent_id = p.agent_id
WHERE p.tenant_id = :tenant AND v.id = :visit AND p.status = 'active'
  AND v.arrived_at >= p.depart_at - interval '2 hours'
  AND v.arrived_at < p.arrive_at + interval '2 hours'
"""
)


async def refulfil(session: AsyncSession, tenant_id: uuid.UUID, visit_id: uuid.UUID) -> None:
    """A visit reassigned to another customer: the stop it fulfilled is planned again, and
    the new customer's stop in the agent's plans of that day is fulfilled by it."""
    params = {"tenant": tenant_id, "visit": visit_id}
    await session.execute(UNFULFIL, params)
    plans = [r[0] for r in await session.execute(PLANS_OF_VISIT, params)]
    if plans:
        await sync_fulfilment(session, tenant_id, plans)
