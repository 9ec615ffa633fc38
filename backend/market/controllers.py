"""HTTP routes: the market view of a place or a drawn area."""

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from backend.auth.security import Principal
from backend.common.deps import DbSession
from backend.market.schemas import MarketArea, MarketView
from backend.market.services import MarketService


class MarketController(Controller):
    path = "/market"
    tags = ["market"]

    @post(
        "/area",
        operation_id="MarketViewOfArea",
        status_code=200,
        description=(
            "Households (of the places there), customers, prospects, dormant customers and "
            "penetration in a drawn area; customers who could refer their neighbours; who on "
            "the team covers it (assigned customers, territories)."
        ),
    )
    async def area(
        self,
        db_session: DbSession,
        request: Request[Principal, Any, Any],
        data: JSONBody[MarketArea],
    ) -> MarketView:
        return await MarketService(db_session, request.user).for_area(data.area)

    @get(
        "/places/{place_id:uuid}",
        operation_id="MarketViewOfPlace",
        description="The market view of a place: its footprint, or a circle around it.",
    )
    async def place(
        self,
        db_session: DbSession,
        request: Request[Principal, Any, Any],
        place_id: FromPath[uuid.UUID],
        radius_m: Annotated[float, QueryParameter(gt=0, le=5000)] = 150,
    ) -> MarketView:
        return await MarketService(db_session, request.user).for_place(place_id, radius_m)
