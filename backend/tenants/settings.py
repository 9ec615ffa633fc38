"""A tenant's settings: how long location data is kept, whether points outside an agent's
shift are stored, the weights of the visit score (backend/customers/scoring.py), the planning
time limit, the road network, and the time zone its days are counted in.
Admins read and change them at /tenant/settings."""

from __future__ import annotations

import uuid
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from litestar import Controller, Request, get, patch
from litestar.params import JSONBody
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.security import Principal
from backend.common.cadence import Cadence
from backend.common.deps import DbSession
from backend.db.models import Tenant
from backend.errors import Forbidden, Invalid
from backend.roads.services import networks
from backend.tenants.calendar import known_country

# The longest any one request may hold a planner worker, whatever a tenant sets: the workers
# are few (one per core) and every other planning request waits behind a long solve.
MAX_PLAN_TIME_LIMIT_S = 10.0


def known_zone(value: str) -> str:
    """An IANA time zone name this machine knows (a ValueError, 422 naming the field, if not)."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


class ScoreWeights(BaseModel):
    """Points each part of a customer's score is worth (docs/recommendations.md). As stored:
    a key this version does not know is ignored (the update model refuses unknown ones)."""

    model_config = ConfigDict(extra="ignore")
    prospect: float = Field(default=40, ge=0, le=100, description="points for a prospect")
    dormant: float = Field(default=30, ge=0, le=100, description="points for a dormant customer")
    customer: float = Field(default=15, ge=0, le=100, description="points for a customer")
    untouched: float = Field(
        default=40, ge=0, le=100, description="points for nobody in touch, full at the days below"
    )
    untouched_full_days: int = Field(
        default=60, ge=1, le=3650, description="days untouched that earn all of `untouched`"
    )
    value: float = Field(default=20, ge=0, le=100, description="points for the customer's value")
    value_full: float = Field(
        default=50_000, gt=0, le=1e12, description="value that earns all of `value`"
    )
    rfm: float = Field(
        default=20, ge=0, le=100, description="points for RFM 5-5-5 (none without transactions)"
    )
    churn: float = Field(default=20, ge=0, le=100, description="points for churn risk 1")


class ScoreWeightsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prospect: float | None = Field(default=None, ge=0, le=100)
    dormant: float | None = Field(default=None, ge=0, le=100)
    customer: float | None = Field(default=None, ge=0, le=100)
    untouched: float | None = Field(default=None, ge=0, le=100)
    untouched_full_days: int | None = Field(default=None, ge=1, le=3650)
    value: float | None = Field(default=None, ge=0, le=100)
    value_full: float | None = Field(default=None, gt=0, le=1e12)
    rfm: float | None = Field(default=None, ge=0, le=100)
    churn: float | None = Field(default=None, ge=0, le=100)


class TenantSettings(BaseModel):
    model_config = ConfigDict(extra="ignore")
    retention_points_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="raw points and scans, by their fix time; days are local days (timezone), "
        "today counting as one",
    )
    retention_records_days: int = Field(
        default=365,
        ge=1,
        le=3650,
        description="events and visits, by when they happened; local days, as for points",
    )
    capture_outside_shift: bool = Field(
        default=False,
        description="store points outside an agent's shift (their profile's shift_start to "
        "shift_end, local time); off: such points are acknowledged and dropped",
    )
    score_weights: ScoreWeights = Field(default_factory=ScoreWeights)
    plan_time_limit_s: float = Field(
        default=5.0,
        ge=0.1,
        le=MAX_PLAN_TIME_LIMIT_S,
        description="the most a plan or re-plan request may spend solving: a longer "
        "`time_limit_s` is cut to this (and never past the server's "
        f"{MAX_PLAN_TIME_LIMIT_S:g} s)",
    )
    travel_provider: str = Field(
        default="",
        description="the named road network this tenant travels on, one of the server's "
        "FIELDSENSE_ROUTING_PROVIDERS (docs/routing.md); empty: the server's default",
    )
    timezone: str = Field(
        default="UTC",
        description="the IANA time zone the tenant's days are counted in: team figures and "
        "heatmaps run from local midnight to local midnight (e.g. Asia/Seoul)",
    )

    holiday_country: str | None = Field(
        default=None,
        description="ISO 3166-1 alpha-2 code (e.g. KR) whose public holidays are days off: "
        "no nightly plan, and points kept only when capturing outside the shift; none: no "
        "holidays",
    )
    cadences: dict[str, Cadence] = Field(
        default_factory=dict,
        description="a visit cadence per segment (a customer's life stage): customers "
        "without their own are seen as their segment's says (week plans)",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return known_zone(value)

    @field_validator("holiday_country")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        return known_country(value) if value else None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


CLEARABLE = ("holiday_country", "travel_provider")


class TenantSettingsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    retention_points_days: int | None = Field(default=None, ge=1, le=3650)
    retention_records_days: int | None = Field(default=None, ge=1, le=3650)
    capture_outside_shift: bool | None = None
    score_weights: ScoreWeightsUpdate | None = None
    plan_time_limit_s: float | None = Field(default=None, ge=0.1, le=MAX_PLAN_TIME_LIMIT_S)
    travel_provider: str | None = Field(default=None, max_length=32)
    timezone: str | None = Field(default=None, max_length=64)
    holiday_country: str | None = Field(
        default=None, max_length=8, description="an ISO country code; null or empty: no holidays"
    )
    cadences: dict[str, Cadence] | None = Field(
        default=None, max_length=100, description="replaces the segments' cadences; {}: none"
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        return None if value is None else known_zone(value)

    @field_validator("holiday_country")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        return known_country(value) if value else value


def settings_of(raw: dict[str, Any] | None) -> TenantSettings:
    return TenantSettings.model_validate(raw or {})


async def tenant_settings(session: AsyncSession, tenant_id: uuid.UUID) -> TenantSettings:
    """A tenant's settings, read in the caller's session."""
    return settings_of(await session.scalar(select(Tenant.settings).where(Tenant.id == tenant_id)))


# The unit's own zone, else its nearest ancestor's with one (the path runs from the root).
_UNIT_ZONE = """SELECT o.timezone FROM org_units u
JOIN org_units o ON o.tenant_id = u.tenant_id AND o.id = ANY(u.path)
WHERE u.tenant_id = :t AND u.id = :u AND o.timezone IS NOT NULL
ORDER BY array_position(u.path, o.id) DESC LIMIT 1"""


async def local_zone(
    session: AsyncSession, tenant_id: uuid.UUID, unit_id: uuid.UUID | None = None
) -> ZoneInfo:
    """Where an org unit's days run midnight to midnight: its own time zone, else its nearest
    ancestor's, else the tenant's."""
    if unit_id is not None:
        own = await session.scalar(text(_UNIT_ZONE), {"t": tenant_id, "u": unit_id})
        if own:
            return ZoneInfo(own)
    return ZoneInfo((await tenant_settings(session, tenant_id)).timezone)


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
        current = settings_of(tenant.settings)
        changes = data.model_dump(exclude_unset=True)
        # `null` clears what may be empty (the holidays' country, the road network); the
        # others keep their value.
        changes = {k: v for k, v in changes.items() if v is not None or k in CLEARABLE}
        if changes.get("travel_provider", "") is None:
            changes["travel_provider"] = ""
        provider = changes.get("travel_provider")
        if provider and provider not in networks.names():
            known = ", ".join(networks.names()) or "none configured"
            raise Invalid(
                f"no road network named {provider!r} on this server ({known})",
                field="travel_provider",
            )
        if "cadences" in changes:
            changes["cadences"] = data.cadences  # as models, not their dumps
        if "score_weights" in changes:
            changes["score_weights"] = current.score_weights.model_copy(
                update=changes["score_weights"]
            )
        merged = current.model_copy(update=changes)
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
