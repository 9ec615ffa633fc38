"""HTTP routes: the market view of a place or a drawn area."""

import uuid
from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from backend.common.deps import per_request
from backend.market.schemas import MarketArea, MarketView
from backend.market.services import MarketService


class MarketController(Controller):
    path = "/market"
    tags = ["market"]
    dependencies = {"market_service": per_request(MarketService)}

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
        market_service: NamedDependency[MarketService],
        data: JSONBody[MarketArea],
    ) -> MarketView:
        return await market_service.for_area(data.area)

    @get(
        "/places/{place_id:uuid}",
        operation_id="MarketViewOfPlace",
        description="The market view of a place: its footprint, or a circle around it.",
    )
    async def place(
        self,
        market_service: NamedDependency[MarketService],
        place_id: FromPath[uuid.UUID],
        radius_m: Annotated[float, QueryParameter(gt=0, le=5000)] = 150,
    ) -> MarketView:
        return await market_service.for_place(place_id, radius_m)
