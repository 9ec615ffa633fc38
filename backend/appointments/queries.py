"""What other domains read of appointments: the plans' fixed points of a day."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.models import Appointment


@dataclass(frozen=True, slots=True)
class Due:
    id: uuid.UUID
    agent_id: uuid.UUID
    customer_id: uuid.UUID
    start: datetime
    latest_start: datetime
    duration_min: int


async def due(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    agents: Sequence[uuid.UUID],
    since: datetime,
    until: datetime,
) -> list[Due]:
    """The agents' appointments that start in [since, until) and stand (planned or
    confirmed), in time order."""
    rows = await session.scalars(
        select(Appointment)
        .where(
            Appointment.tenant_id == tenant_id,
            Appointment.agent_id.in_(list(agents)),
            Appointment.starts_at >= since,
            Appointment.starts_at < until,
            Appointment.status.in_(("planned", "confirmed")),
        )
        .order_by(Appointment.starts_at, Appointment.id)
    )
    return [
        Due(r.id, r.agent_id, r.customer_id, r.starts_at, r.latest_start_at, r.duration_min)
        for r in rows
    ]


def standing() -> str:
    """The appointments that stand (planned or confirmed; every column), as a subquery to
    alias."""
    return "(SELECT * FROM appointments WHERE status IN ('planned', 'confirmed'))"
