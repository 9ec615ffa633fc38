"""What a plan is made from, read as the caller may see it: the day asked for, the agents of
a unit, the customers named (422 naming the first unknown one), the stored appointments, and
the candidates near the agent scored as suggestions are (backend/customers/scoring.py). The
input half of `PlanService`."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.appointments.queries import Due, due
from backend.auth.scope import subtree_unit_ids
from backend.auth.security import Principal
from backend.customers.scoring import weight_vector
from backend.db.models import AgentProfile, Customer, OrgUnit, User
from backend.errors import Forbidden, Invalid
from backend.plans.problem import CANDIDATES
from backend.plans.schemas import AgentProfileIn, AppointmentIn
from backend.tenants.settings import TenantSettings, tenant_settings
from routing.travel import GeoPoint

PAST_DAYS = 1  # plans for yesterday are still accepted (late corrections), not before
FUTURE_DAYS = 366


@dataclass(frozen=True, slots=True)
class Booked:
    """Stored appointments for a plan: as the request's own, whose agent each is, and their
    customers."""

    appointments: list[AppointmentIn]
    pins: dict[uuid.UUID, uuid.UUID]
    info: dict[uuid.UUID, dict[str, Any]]


class PlanInputs:
    session: AsyncSession
    p: Principal

    async def _tenant_settings(self) -> TenantSettings:
        return await tenant_settings(self.session, self.p.tenant_id)

    def _check_date(self, day: date, field: str = "date") -> None:
        today = datetime.now(UTC).date()
        if day < today - timedelta(days=PAST_DAYS):
            raise Invalid("the date is in the past", field=field)
        if day > today + timedelta(days=FUTURE_DAYS):
            raise Invalid("the date is more than a year ahead", field=field)

    def _customer_scope(self) -> list[Any]:
        """Who may put a customer in a plan: as for reading customers (their own for agents)."""
        if self.p.is_admin:
            return []
        if self.p.is_agent:
            return [Customer.assigned_agent_id == self.p.id]
        return [Customer.org_unit_id.in_(subtree_unit_ids(self.p))]

    async def _customers(
        self, ids: Iterable[tuple[str, uuid.UUID]], scoped: bool = True
    ) -> dict[uuid.UUID, dict[str, Any]]:
        """The named customers, visible to the caller; 422 naming the first unknown one.

        ``scoped=False`` for customers already in a plan: a manager may have put a customer
        the agent does not own in the agent's day, and the agent's re-plan keeps it."""
        wanted = list(ids)
        found: dict[uuid.UUID, dict[str, Any]] = {}
        if wanted:
            rows = await self.session.execute(
                select(
                    Customer.id,
                    Customer.name,
                    func.ST_Y(func.geometry(Customer.location)),
                    func.ST_X(func.geometry(Customer.location)),
                    Customer.life_stage,
                    Customer.preferred_hours,
                ).where(
                    Customer.tenant_id == self.p.tenant_id,
                    Customer.id.in_([cid for _, cid in wanted]),
                    *(self._customer_scope() if scoped else []),
                )
            )
            for cid, name, lat, lon, life_stage, hours in rows:
                found[cid] = {
                    "name": name,
                    "lat": lat,
                    "lon": lon,
                    "segment": life_stage,
                    "hours": hours,
                }
        for field, cid in wanted:
            if cid not in found:
                raise Invalid(f"unknown customer {cid}", field=field)
        return found

    async def _booked(
        self,
        agents: Sequence[uuid.UUID],
        since: datetime,
        until: datetime,
        given: Sequence[AppointmentIn] = (),
    ) -> Booked:
        """The agents' stored appointments starting in [since, until) that stand, but for
        customers the request gives an appointment itself, and a customer's first only:
        each one pinned to its agent, and its customer read whoever planned it (a manager
        may book a customer the agent does not own)."""
        rows = await due(self.session, self.p.tenant_id, agents, since, until)
        asked = {a.customer_id for a in given}
        kept: dict[uuid.UUID, Due] = {}
        for r in rows:
            if r.customer_id not in asked and r.customer_id not in kept:
                kept[r.customer_id] = r  # the customer's first
        info = await self._customers(
            [(f"appointment {r.id}", r.customer_id) for r in kept.values()], scoped=False
        )
        appointments = [
            AppointmentIn(customer_id=r.customer_id, start=r.start, end=r.latest_start,
                          service_min=r.duration_min)
            for r in kept.values()
        ]  # fmt: skip
        pins = {r.customer_id: r.agent_id for r in kept.values()}
        return Booked(appointments, pins, info)

    async def _team(
        self, org_unit_id: uuid.UUID
    ) -> tuple[OrgUnit, list[tuple[User, AgentProfileIn]], list[uuid.UUID]]:
        """A unit's active agents with a planning profile, and those without one (a
        manager's subtree; 403 for agents, 422 naming `org_unit_id` for another unit)."""
        if self.p.is_agent:
            raise Forbidden("team plans are made by managers")
        unit = await self.session.scalar(
            select(OrgUnit).where(
                OrgUnit.tenant_id == self.p.tenant_id,
                OrgUnit.id == org_unit_id,
                *([] if self.p.is_admin else [OrgUnit.id.in_(subtree_unit_ids(self.p))]),
            )
        )
        if unit is None:
            raise Invalid("unknown org_unit_id (or outside your org subtree)", field="org_unit_id")
        users = (
            await self.session.scalars(
                select(User)
                .join(
                    OrgUnit,
                    (OrgUnit.tenant_id == User.tenant_id) & (OrgUnit.id == User.org_unit_id),
                )
                .where(
                    User.tenant_id == self.p.tenant_id,
                    User.role == "agent",
                    User.active,
                    OrgUnit.path.contains([unit.id]),
                )
                .order_by(User.id)
            )
        ).all()
        rows = await self.session.execute(
            select(AgentProfile.user_id, AgentProfile.settings).where(
                AgentProfile.tenant_id == self.p.tenant_id,
                AgentProfile.user_id.in_([u.id for u in users]),
            )
        )
        settings: dict[uuid.UUID, dict[str, Any]] = {uid: value for uid, value in rows}
        with_profiles = [
            (user, AgentProfileIn.model_validate(settings[user.id]))
            for user in users
            if user.id in settings
        ]
        skipped = [user.id for user in users if user.id not in settings]
        if not with_profiles:
            raise Invalid("no agent under this unit has a planning profile", field="org_unit_id")
        return unit, with_profiles, skipped

    async def _candidates(
        self,
        agents: Sequence[uuid.UUID],
        units: Sequence[uuid.UUID],
        center: GeoPoint,
        radius_m: float,
        limit: int,
        exclude: Sequence[uuid.UUID],
        boosted: Sequence[uuid.UUID] = (),
    ) -> list[dict[str, Any]]:
        settings = await self._tenant_settings()
        rows = await self.session.execute(
            CANDIDATES,
            {
                "tenant": self.p.tenant_id,
                "now": datetime.now(UTC),
                "weights": weight_vector(settings.score_weights),
                "agents": list(agents),
                "units": list(units),
                "lat": center.lat,
                "lon": center.lon,
                "radius": radius_m,
                "exclude": list(exclude),
                "boosted": list(boosted),
                # Agents plan from their own book; managers also hand out the unit's
                # unassigned customers.
                "unassigned": not self.p.is_agent,
                "limit": limit,
            },
        )
        return [dict(row._mapping) for row in rows]
