"""Bootstrapping a tenant: the tenant row, its HQ unit and its first admin, together."""

from __future__ import annotations

import re
from dataclasses import dataclass

from anyio import to_thread
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.security import hash_password
from backend.db.base import uuid7
from backend.db.models import OrgUnit, Tenant, User
from backend.errors import Conflict, Invalid

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class NewTenant:
    tenant: Tenant
    hq: OrgUnit
    admin: User


async def create_tenant(
    session: AsyncSession,
    *,
    slug: str,
    name: str,
    admin_email: str,
    admin_password: str,
    hq_name: str = "HQ",
) -> NewTenant:
    if not SLUG.match(slug):
        raise Invalid("slug: lowercase letters, digits and dashes", field="slug")
    if len(admin_password) < 8:
        raise Invalid("at least 8 characters", field="admin_password")
    if await session.scalar(select(Tenant.id).where(Tenant.slug == slug)) is not None:
        raise Conflict(f"tenant {slug!r} exists", field="slug")
    tenant = Tenant(id=uuid7(), slug=slug, name=name)
    hq_id = uuid7()
    hq = OrgUnit(
        tenant_id=tenant.id, id=hq_id, name=hq_name, kind="hq", parent_id=None, path=[hq_id]
    )
    admin = User(
        tenant_id=tenant.id,
        id=uuid7(),
        email=admin_email.lower(),
        name="Administrator",
        role="admin",
        org_unit_id=hq_id,
        password_hash=await to_thread.run_sync(hash_password, admin_password),
    )
    session.add(tenant)
    await session.flush()
    session.add(hq)
    await session.flush()
    session.add(admin)
    await session.flush()
    return NewTenant(tenant=tenant, hq=hq, admin=admin)
