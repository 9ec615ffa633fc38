"""HTTP routes: planning profiles, plans, re-plans, team plans and week plans."""

import uuid
from datetime import date
from typing import Any

from litestar import Controller, Request, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody

from backend.auth.security import Principal
from backend.common.deps import DbSession
from backend.plans.fulfilment import Fulfilment
from backend.plans.schemas import (
    AgentProfileIn,
    AgentProfileOut,
    PlanCreate,
    PlanOut,
    ReplanIn,
    TeamPlanCreate,
    TeamPlanOut,
    TeamWeekOut,
    WeekPlanCreate,
    WeekPlanOut,
)
from backend.plans.services import PlanService
from backend.plans.week import WeekPlanService


async def _plan_service(
    db_session: DbSession,
    request: Request[Principal, Any, Any],
    plan_fulfilment: NamedDependency[Fulfilment],
) -> PlanService:
    """The plans of the request's caller; `plan_fulfilment` is the app's (backend/app.py)."""
    return PlanService(db_session, request.user, plan_fulfilment)


_PLAN_SERVICE = Provide(_plan_service)


class AgentProfileController(Controller):
    path = "/agents"
    tags = ["plans"]
    dependencies = {"plan_service": _PLAN_SERVICE}

    @get("/{user_id:uuid}/profile", operation_id="GetAgentProfile")
    async def get_profile(
        self,
        plan_service: NamedDependency[PlanService],
        user_id: FromPath[uuid.UUID],
    ) -> AgentProfileOut:
        return await plan_service.get_profile(user_id)

    @put(
        "/{user_id:uuid}/profile",
        operation_id="PutAgentProfile",
        description="Where the agent's day starts and ends, the shift, lunch and travel mode.",
    )
    async def put_profile(
        self,
        plan_service: NamedDependency[PlanService],
        user_id: FromPath[uuid.UUID],
        data: JSONBody[AgentProfileIn],
    ) -> AgentProfileOut:
        return await plan_service.put_profile(user_id, data)


class PlanController(Controller):
    path = "/plans"
    tags = ["plans"]
    dependencies = {"plan_service": _PLAN_SERVICE}

    @post(
        "/",
        operation_id="CreatePlan",
        description=(
            "Plan an agent's day: appointments (hard windows), must-visits, and prospects "
            "(given with scores, or chosen from the customer base). Replaces the day's active "
            "plan. A day that cannot hold everything is still a plan: `dropped` says why each "
            "stop is left out."
        ),
    )
    async def create_plan(
        self,
        plan_service: NamedDependency[PlanService],
        data: JSONBody[PlanCreate],
    ) -> PlanOut:
        return await plan_service.create(data)

    @get("/", operation_id="ListPlans")
    async def list_plans(
        self,
        plan_service: NamedDependency[PlanService],
        agent_id: FromQuery[uuid.UUID | None] = None,
        plan_date: FromQuery[date | None] = None,
        include_superseded: FromQuery[bool] = False,
    ) -> list[PlanOut]:
        return await plan_service.list(agent_id, plan_date, include_superseded)

    @get("/{plan_id:uuid}", operation_id="GetPlan")
    async def get_plan(
        self,
        plan_service: NamedDependency[PlanService],
        plan_id: FromPath[uuid.UUID],
    ) -> PlanOut:
        return await plan_service.read(plan_id)

    @post(
        "/{plan_id:uuid}/replan",
        operation_id="Replan",
        description=(
            "Re-plan the rest of the day from the agent's position and time after a "
            "cancellation, a late finish or an urgent visit. Visits done (or detected) stay."
        ),
    )
    async def replan(
        self,
        plan_service: NamedDependency[PlanService],
        plan_id: FromPath[uuid.UUID],
        data: JSONBody[ReplanIn],
    ) -> PlanOut:
        return await plan_service.replan(plan_id, data)


class TeamPlanController(Controller):
    path = "/team-plans"
    tags = ["plans"]
    dependencies = {"plan_service": _PLAN_SERVICE}

    @post(
        "/",
        operation_id="CreateTeamPlan",
        description=(
            "Plan every agent under an org unit in one solve: who visits whom, in what order. "
            "Customers inside an agent's territory (or assigned to one) go to that agent only."
        ),
    )
    async def create_team_plan(
        self,
        plan_service: NamedDependency[PlanService],
        data: JSONBody[TeamPlanCreate],
    ) -> TeamPlanOut:
        return await plan_service.team(data)


async def _week_service(
    db_session: DbSession,
    request: Request[Principal, Any, Any],
    plan_fulfilment: NamedDependency[Fulfilment],
) -> WeekPlanService:
    return WeekPlanService(db_session, request.user, plan_fulfilment)


class WeekPlanController(Controller):
    path = "/week-plans"
    tags = ["plans"]
    dependencies = {"week_service": Provide(_week_service)}

    @post(
        "/",
        operation_id="CreateWeekPlan",
        description="Plan an agent's (or every agent's of a unit) working week whole: the "
        "week's appointments on their days, the customers due by their cadence spread over "
        "the working days, prospects in the gaps; each day's plan stored (docs/week.md).",
    )
    async def create(
        self, week_service: NamedDependency[WeekPlanService], data: JSONBody[WeekPlanCreate]
    ) -> TeamWeekOut:
        return await week_service.plan_weeks(data)

    @get("/{week_id:uuid}", operation_id="GetWeekPlan")
    async def read(
        self, week_service: NamedDependency[WeekPlanService], week_id: FromPath[uuid.UUID]
    ) -> WeekPlanOut:
        return await week_service.get_week(week_id)

    @get("/", operation_id="ListWeekPlans", description="The active week plans, newest week first.")
    async def list_weeks(
        self,
        week_service: NamedDependency[WeekPlanService],
        agent_id: FromQuery[uuid.UUID | None] = None,
        week_start: FromQuery[date | None] = None,
    ) -> list[WeekPlanOut]:
        return await week_service.list_weeks(agent_id, week_start)
