"""The learning loop: visit outcomes per customer segment, and what they teach."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.customers.queries import segments
from backend.tracking.queries import visits

WINDOW_DAYS = 365

RECOMPUTE = text(
    f"""
WITH fresh AS (
    SELECT v.tenant_id, c.segment, v.outcome, count(*)::int AS visits
    FROM {visits()} v
    JOIN {segments()} c ON c.tenant_id = v.tenant_id AND c.id = v.customer_id
    WHERE v.outcome IS NOT NULL AND v.arrived_at > :since
    GROUP BY 1, 2, 3
), gone AS (
    DELETE FROM segment_outcomes s
    WHERE NOT EXISTS (SELECT 1 FROM fresh f WHERE f.tenant_id = s.tenant_id
                      AND f.segment = s.segment AND f.outcome = s.outcome)
)
INSERT INTO segment_outcomes (tenant_id, segment, outcome, visits)
SELECT tenant_id, segment, outcome, visits FROM fresh
ON CONFLICT (tenant_id, segment, outcome) DO UPDATE SET visits = EXCLUDED.visits
"""  # noqa: S608 - the tracking and customers domains' relations
)


async def learn_from_outcomes(session: AsyncSession, now: datetime) -> int:
    """Recount the last year's recorded outcomes per tenant, segment and outcome (a job)."""
    result = await session.execute(RECOMPUTE, {"since": now - timedelta(days=WINDOW_DAYS)})
    return int(getattr(result, "rowcount", 0) or 0)
