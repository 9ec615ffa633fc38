"""The audit of reads of a person's location history (backend/privacy/services.py): a read by
someone else is recorded with who, whom and what; a person reading their own is not."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.security import Principal
from backend.db.models import AuditEntry
from backend.privacy.services import audit, audit_read
from tests.backend.world import Tenant


def _user(t: Tenant, who: str, role: str) -> Principal:
    return Principal("user", t.id, t.users[who], role, t.units["T1"])


async def _entries(session: AsyncSession, t: Tenant) -> list[AuditEntry]:
    rows = await session.scalars(
        select(AuditEntry)
        .where(AuditEntry.tenant_id == t.id, AuditEntry.subject_user_id == t.users["agent"])
        .order_by(AuditEntry.id)
    )
    return list(rows)


async def test_a_read_by_someone_else_is_audited_ones_own_is_not(
    tenant: Tenant, session: AsyncSession
) -> None:
    before = len(await _entries(session, tenant))
    agent, manager = _user(tenant, "agent", "agent"), _user(tenant, "manager", "manager")
    await audit_read(session, agent, tenant.users["agent"], {"day": "2026-12-01"})
    assert len(await _entries(session, tenant)) == before
    await audit_read(session, manager, tenant.users["agent"], {"day": "2026-12-01"})
    await audit(session, manager, "erase_location_history", tenant.users["agent"], {})
    await session.commit()
    entries = (await _entries(session, tenant))[before:]
    assert [(e.actor_id, e.action, e.detail) for e in entries] == [
        (tenant.users["manager"], "read_location_history", {"day": "2026-12-01"}),
        (tenant.users["manager"], "erase_location_history", {}),
    ]
