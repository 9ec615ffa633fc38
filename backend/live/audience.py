"""Whom a team's stream is for: the agents under an org unit the caller may watch, by the
scope rules every other read follows (backend/auth/scope.py)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from backend.auth.scope import unit_in_subtree
from backend.auth.security import Principal
from backend.db.models import OrgUnit, User
from backend.errors import NotFound


async def team_agents(
    engine: AsyncEngine, p: Principal, unit_id: uuid.UUID
) -> frozenset[uuid.UUID]:
    """The agents of the unit's subtree, if the unit lies in the caller's (a 404 naming
    `org_unit_id` if not). A session of its own, closed before the stream starts."""
    async with AsyncSession(engine) as session:
        unit = await session.scalar(
            select(OrgUnit.id).where(
                OrgUnit.tenant_id == p.tenant_id,
                OrgUnit.id == unit_id,
                unit_in_subtree(OrgUnit.id, p),
            )
        )
        if unit is None:
            raise NotFound(f"org unit {unit_id} not found", field="org_unit_id")
        units = select(OrgUnit.id).where(
            OrgUnit.tenant_id == p.tenant_id, OrgUnit.path.contains([unit_id])
        )
        rows = await session.scalars(
            select(User.id).where(
                User.tenant_id == p.tenant_id, User.role == "agent", User.org_unit_id.in_(units)
            )
        )
        return frozenset(rows)
