"""Planning jobs: tomorrow's plan for every agent with a profile; fulfilled stops."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.security import Principal
from backend.db.models import AgentProfile, Plan, User
from backend.errors import DomainError
from backend.plans.fulfilment import Fulfilment
from backend.plans.schemas import AgentProfileIn, AppointmentIn, PlanOptionsIn, VisitIn
from backend.plans.services import PlanService
from backend.tenants.calendar import day_off
from backend.tenants.settings import tenant_settings

log = logging.getLogger("fieldsense.plans")

PLAN_FROM_HOUR = 18  # local time from which tomorrow is planned
BATCH = 20  # plans per firing and process: each takes up to the solver's time limit

# An agent's tomorrow is one process's at a time: a lock held until the run's transaction ends
# (its plans committed), so two processes never plan the same agent's day; the second finds
# the lock taken and goes on to the next agent, or, once the first committed, the plan made.
_CLAIM = text("SELECT pg_try_advisory_xact_lock(hashtextextended(:key, 0))")


async def plan_tomorrow(session: AsyncSession, now: datetime, fulfilment: Fulfilment) -> int:
    """Plan tomorrow (in each agent's time zone) for agents who have no plan for it yet.

    Runs in every process (a shared job: each agent's day claimed by one, `_CLAIM`), every
    two minutes; after 18:00 local time an agent without tomorrow's plan gets one
    made from the profile, their stored appointments and the best-scored candidates, unless
    tomorrow is their day off (a weekday outside their `workdays`, their time off, or a public
    holiday of the tenant's country). A day already planned (by a week plan, a person, an
    earlier run) is kept, unless its stored appointments changed since: then it is planned
    again, its must-visits (a week plan's due customers) kept. Returns plans made."""
    rows = (
        await session.execute(
            select(AgentProfile, User)
            .join(
                User, (User.tenant_id == AgentProfile.tenant_id) & (User.id == AgentProfile.user_id)
            )
            .where(User.active, User.role == "agent")
            .order_by(AgentProfile.tenant_id, AgentProfile.user_id)
        )
    ).all()
    made = 0
    countries: dict[uuid.UUID, str | None] = {}
    for profile_row, user in rows:
        if made >= BATCH:
            break
        profile = AgentProfileIn.model_validate(profile_row.settings)
        local = now.astimezone(ZoneInfo(profile.timezone))
        if local.hour < PLAN_FROM_HOUR:
            continue
        tomorrow = (local + timedelta(days=1)).date()
        if user.tenant_id not in countries:
            settings = await tenant_settings(session, user.tenant_id)
            countries[user.tenant_id] = settings.holiday_country
        if day_off(tomorrow, profile.workdays, countries[user.tenant_id], profile.days_off()):
            continue  # time off, a weekday the agent does not work, or a public holiday
        key = f"plan_tomorrow:{user.tenant_id}:{user.id}:{tomorrow}"
        if not await session.scalar(_CLAIM, {"key": key}):
            continue  # another process is planning this agent's day
        exists = await session.scalar(
            select(Plan).where(
                Plan.tenant_id == user.tenant_id,
                Plan.agent_id == user.id,
                Plan.plan_date == tomorrow,
                Plan.status == "active",
            )
        )
        system = Principal(
            kind="user",
            tenant_id=user.tenant_id,
            id=user.id,
            role="agent",
            org_unit_id=user.org_unit_id,
        )
        service = PlanService(session, system, fulfilment)
        must: list[VisitIn] = []
        if exists is not None:
            since = datetime.combine(tomorrow, time(0), ZoneInfo(profile.timezone))
            if not await _appointments_changed(service, exists, since):
                continue  # planned (by the week plan, a person, or an earlier run) and current
            must = [VisitIn.model_validate(m) for m in exists.inputs.get("must_visit", [])]
        try:
            async with session.begin_nested():
                await service._plan_agents([(user, profile)], tomorrow, PlanOptionsIn(), must=must)
        except DomainError as exc:
            log.warning("no plan for agent %s on %s: %s", user.id, tomorrow, exc)
            continue
        made += 1
    return made


async def _appointments_changed(service: PlanService, plan: Plan, since: datetime) -> bool:
    """Whether the agent's stored appointments of the plan's day are no longer those it was
    made with (one booked, cancelled, moved or deleted since). A plan that does not say which
    were stored (made before they were recorded) is left as it is."""
    booked = plan.inputs.get("booked")
    if booked is None:
        return False
    then = {
        _key(AppointmentIn.model_validate(a))
        for a in plan.inputs.get("appointments", [])
        if a["customer_id"] in booked
    }
    current = await service._booked([plan.agent_id], since, since + timedelta(days=1))
    return then != {_key(a) for a in current.appointments}


def _key(a: AppointmentIn) -> tuple[uuid.UUID, datetime, datetime, int]:
    return (a.customer_id, a.start, a.end or a.start, a.service_min)


async def fulfil_plan_stops(session: AsyncSession, now: datetime, fulfilment: Fulfilment) -> int:
    """Mark the planned stops of plans under way fulfilled by the visits detected for them."""
    return await fulfilment.under_way(session, now)
