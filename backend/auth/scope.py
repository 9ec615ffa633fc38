"""Access scopes as SQL conditions: what a principal may see and change.

The rules (docs/access.md has the full matrix):
- everyone is confined to their tenant; a record of another tenant is 404;
- an admin sees and changes everything in the tenant;
- a manager sees and changes records owned by org units in their subtree;
- an agent sees their own records (assigned customers, their devices) and the shared
  records (places, geofences, territories) of their own unit and its ancestors;
- a store app sees its stores and what hangs off them, read-only.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, Select, false, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from backend.auth.security import Principal
from backend.db.models import OrgUnit, User
from backend.errors import Invalid


def subtree_unit_ids(p: Principal) -> Select[Any]:
    return select(OrgUnit.id).where(
        OrgUnit.tenant_id == p.tenant_id, OrgUnit.path.contains([p.org_unit_id])
    )


def unit_in_subtree(col: InstrumentedAttribute[uuid.UUID], p: Principal) -> ColumnElement[bool]:
    """`col` (an org unit id) lies in the principal's subtree (everything, for admins)."""
    if p.is_admin:
        return true()
    if p.is_manager:
        return col.in_(subtree_unit_ids(p))
    return false()


def unit_on_path(col: InstrumentedAttribute[uuid.UUID], p: Principal) -> ColumnElement[bool]:
    """`col` is the principal's own unit or one of its ancestors (shared records agents read)."""
    return col.in_(list(p.org_path)) if p.org_path else false()


async def require_agent(
    session: AsyncSession, p: Principal, agent_id: uuid.UUID, field: str
) -> User:
    """The agent `agent_id`, if the principal may act for them (themselves; a manager's
    subtree; anyone, for an admin), else a 422 naming `field`."""
    stmt = select(User).where(
        User.tenant_id == p.tenant_id, User.id == agent_id, User.role == "agent"
    )
    if p.is_agent:
        stmt = stmt.where(User.id == p.id)
    elif not p.is_admin:
        stmt = stmt.where(User.org_unit_id.in_(subtree_unit_ids(p)))
    user = await session.scalar(stmt)
    if user is None:
        raise Invalid(f"unknown agent {field} (or not one you manage)", field=field)
    return user
