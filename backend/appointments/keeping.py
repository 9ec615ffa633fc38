"""The `keep_appointments` job: an appointment is `done` once a visit of its agent to its
customer arrived within an hour of its window (from an hour before `start` to an hour after
`latest_start`), and it names that visit. Whatever saw the visit counts (detected or checked
in). The visits come from the tracking domain's relation (the composition root wires it:
backend/app.py), so this domain does not import tracking, which books appointments at visits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.driver import raw_connection

SLACK = "1 hour"
LOOK_BACK = "2 days"


def _keep(visits: str) -> str:
    return f"""
WITH kept AS (
    SELECT DISTINCT ON (a.tenant_id, a.id) a.tenant_id, a.id, v.id AS visit_id
    FROM appointments a
    JOIN {visits} v ON v.tenant_id = a.tenant_id AND v.agent_id = a.agent_id
                   AND v.customer_id = a.customer_id
                   AND v.arrived_at >= a.starts_at - interval '{SLACK}'
                   AND v.arrived_at <= a.latest_start_at + interval '{SLACK}'
    WHERE a.status IN ('planned', 'confirmed')
      AND a.starts_at >= $1::timestamptz - interval '{LOOK_BACK}'
      AND a.starts_at <= $1::timestamptz + interval '{SLACK}'
    ORDER BY a.tenant_id, a.id, abs(extract(epoch FROM v.arrived_at - a.starts_at))
)
UPDATE appointments a SET status = 'done', visit_id = kept.visit_id, updated_at = now()
FROM kept WHERE a.tenant_id = kept.tenant_id AND a.id = kept.id
"""  # noqa: S608 - the tracking domain's relation, this module's constants


async def keep_appointments(session: AsyncSession, now: datetime, visits: str) -> int:
    """One pass over the appointments of the last two days; how many were kept."""
    db = await raw_connection(session)
    status = await db.execute(_keep(visits), now)
    return int(status.rsplit(" ", 1)[-1])
