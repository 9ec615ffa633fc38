"""The audit of reads of a person's location history (and of its erasure, which the tracking
domain does: backend/tracking/erasure.py)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.security import Principal
from backend.db.models import AuditEntry


async def audit_read(
    session: AsyncSession, p: Principal, subject: uuid.UUID, detail: dict[str, Any]
) -> None:
    """Record that someone other than the person read their location history."""
    if p.kind == "user" and p.id == subject:
        return
    await audit(session, p, "read_location_history", subject, detail)


async def audit(
    session: AsyncSession, p: Principal, action: str, subject: uuid.UUID, detail: dict[str, Any]
) -> None:
    session.add(
        AuditEntry(
            tenant_id=p.tenant_id,
            actor_id=p.id,
            action=action,
            subject_user_id=subject,
            detail=detail,
        )
    )
    await session.flush()
