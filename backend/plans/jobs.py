"""Planning jobs: tomorrow's plan for every agent with a profile; fulfilled stops."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.security import Principal
from backend.db.models import AgentProfile, Plan, User
from backend.errors import DomainError
from backend.plans.fulfilment import Fulfilment
from backend.plans.schemas import AgentProfileIn, PlanOptionsIn
from backend.plans.services import PlanService
from backend.tenants.calendar import day_off
from backend.tenants.settings import tenant_settings

log = logging.getLogger("fieldsense.plans")

PLAN_FROM_HOUR = 18  # local time from which tomorrow is planned
BATCH = 20  # plans per firing: each takes up to the solver's time limit


async def plan_tomorrow(session: AsyncSession, now: datetime, fulfilment: Fulfilment) -> int:
    """Plan tomorrow (in each agent's time zone) for agents who have no plan for it yet.

    Runs every few minutes; after 18:00 local time an agent without tomorrow's plan gets one
    made from the profile and the best-scored candidates, unless tomorrow is their day off (a
    weekday outside their `workdays`, or a public holiday of the tenant's country). Returns
    plans made."""
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
        exists = await session.scalar(
            select(Plan.id).where(
                Plan.tenant_id == user.tenant_id,
                Plan.agent_id == user.id,
                Plan.plan_date == tomorrow,
            )
        )
        if exists is not None:
            continue
        system = Principal(
            kind="user",
            tenant_id=user.tenant_id,
            id=user.id,
            role="agent",
            org_unit_id=user.org_unit_id,
        )
        try:
            async with session.begin_nested():
                await PlanService(session, system, fulfilment)._plan_agents(
                    [(user, profile)], tomorrow, PlanOptionsIn()
                )
        except DomainError as exc:
            log.warning("no plan for agent %s on %s: %s", user.id, tomorrow, exc)
            continue
        made += 1
    return made


async def fulfil_plan_stops(session: AsyncSession, now: datetime, fulfilment: Fulfilment) -> int:
    """Mark the planned stops of plans under way fulfilled by the visits detected for them."""
    return await fulfilment.under_way(session, now)
