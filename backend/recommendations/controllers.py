"""HTTP routes: free-time recommendations."""

import uuid
from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from backend.common.deps import per_request
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
    dependencies = {"recommendation_service": per_request(RecommendationService)}

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
        recommendation_service: NamedDependency[RecommendationService],
        data: JSONBody[FreeTimeQuery],
    ) -> FreeTimeResult:
        return await recommendation_service.free_time(data)

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
        recommendation_service: NamedDependency[RecommendationService],
        plan_id: FromPath[uuid.UUID],
        corridor_m: Annotated[float, QueryParameter(gt=0, le=5000)] = 500,
        service_min: Annotated[int, QueryParameter(ge=1, le=480)] = 30,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
    ) -> AlongRouteResult:
        return await recommendation_service.along_route(plan_id, corridor_m, service_min, limit)

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
        self, recommendation_service: NamedDependency[RecommendationService]
    ) -> list[SegmentLearning]:
        return await recommendation_service.learned()
