"""A tenant's privacy settings: how long location data is kept, whether points outside an
agent's shift are stored. Admins read and change them at /tenant/settings."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, patch
from litestar.params import JSONBody
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.security import Principal
from backend.common.deps import DbSession
from backend.db.models import Tenant
from backend.errors import Forbidden


class TenantSettings(BaseModel):
    model_config = ConfigDict(extra="ignore")
    retention_points_days: int = Field(
        default=30, ge=1, le=3650, description="raw points and scans, by their fix time"
    )
    retention_records_days: int = Field(
        default=365, ge=1, le=3650, description="events and visits, by when they happened"
    )
    capture_outside_shift: bool = Field(
        default=False,
        description="store points outside an agent's shift (their profile's shift_start to "
        "shift_end, local time); off: such points are acknowledged and dropped",
    )


class TenantSettingsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    retention_points_days: int | None = Field(default=None, ge=1, le=3650)
    retention_records_days: int | None = Field(default=None, ge=1, le=3650)
    capture_outside_shift: bool | None = None


def settings_of(raw: dict[str, Any] | None) -> TenantSettings:
    return TenantSettings.model_validate(raw or {})


class TenantSettingsController(Controller):
    path = "/tenant/settings"
    tags = ["tenants"]

    @get("/", operation_id="GetTenantSettings")
    async def read(
        self, db_session: DbSession, request: Request[Principal, Any, Any]
    ) -> TenantSettings:
        tenant = await self._tenant(db_session, request.user)
        return settings_of(tenant.settings)

    @patch("/", operation_id="UpdateTenantSettings")
    async def update(
        self,
        db_session: DbSession,
        request: Request[Principal, Any, Any],
        data: JSONBody[TenantSettingsUpdate],
    ) -> TenantSettings:
        tenant = await self._tenant(db_session, request.user)
        merged = settings_of(tenant.settings).model_copy(
            update=data.model_dump(exclude_unset=True, exclude_none=True)
        )
        tenant.settings = merged.model_dump()
        await db_session.flush()
        return merged

    @staticmethod
    async def _tenant(session: AsyncSession, p: Principal) -> Tenant:
        if not p.is_admin:
            raise Forbidden("tenant settings are for admins")
        tenant: Tenant | None = await session.scalar(select(Tenant).where(Tenant.id == p.tenant_id))
        assert tenant is not None  # the caller's own tenant (row-level security shows only it)
        return tenant
