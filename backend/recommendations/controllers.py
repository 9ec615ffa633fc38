"""HTTP routes: free-time recommendations."""

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from backend.auth.security import Principal
from backend.common.deps import DbSession
from backend.recommendations.schemas import (
    AlongRouteResult,
    FreeTimeQuery,
    FreeTimeResult,
    SegmentLearning,
)
from backend.recommendations.services import RecommendationService


class RecommendationController(Controller):
    path = "/recommendations"
    tags = ["recommendations"]

    @post(
        "/free-time",
        operation_id="RecommendForFreeTime",
        status_code=200,
        description=(
            "'I have N free minutes here': customers and prospects the agent can see in that "
            "time (travel there, the visit, travel on to the next commitment), best value per "
            "minute first, each with its reasons. Excludes do-not-visit customers, those "
            "visited in the last 14 days, those whose preferred hours do not fit, and other "
            "agents' customers."
        ),
    )
    async def free_time_handler(
        self,
        db_session: DbSession,
        request: Request[Principal, Any, Any],
        data: JSONBody[FreeTimeQuery],
    ) -> FreeTimeResult:
        return await RecommendationService(db_session, request.user).free_time(data)

    @get(
        "/along-route/{plan_id:uuid}",
        operation_id="RecommendAlongRoute",
        description=(
            "Prospects within a corridor of a plan's route, each with the cheapest place to "
            "fit it in and the detour; send the chosen ones as `add` to the plan's re-plan."
        ),
    )
    async def along_route(
        self,
        db_session: DbSession,
        request: Request[Principal, Any, Any],
        plan_id: FromPath[uuid.UUID],
        corridor_m: Annotated[float, QueryParameter(gt=0, le=5000)] = 500,
        service_min: Annotated[int, QueryParameter(ge=1, le=480)] = 30,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
    ) -> AlongRouteResult:
        return await RecommendationService(db_session, request.user).along_route(
            plan_id, corridor_m, service_min, limit
        )

    @get(
        "/learned",
        operation_id="ListLearnedConversion",
        description=(
            "What the team's recorded visit outcomes taught, per customer segment: "
            "conversations, conversions, the conversion rate (with a 20 % prior worth 10 "
            "conversations) and the factor it puts on suggestion and plan scores. Recounted "
            "every 5 minutes from the last year's visits."
        ),
    )
    async def learned(
        self, db_session: DbSession, request: Request[Principal, Any, Any]
    ) -> list[SegmentLearning]:
        return await RecommendationService(db_session, request.user).learned()
