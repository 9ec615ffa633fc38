"""HTTP routes: free-time recommendations."""

from typing import Any

from litestar import Controller, Request, post
from litestar.params import JSONBody

from backend.auth.security import Principal
from backend.common.deps import DbSession
from backend.recommendations.schemas import FreeTimeQuery, FreeTimeResult
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
    async def free_time(
        self,
        db_session: DbSession,
        request: Request[Principal, Any, Any],
        data: JSONBody[FreeTimeQuery],
    ) -> FreeTimeResult:
        return await RecommendationService(db_session, request.user).free_time(data)
