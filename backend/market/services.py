"""Market view: households, customers, prospects and penetration in a place or an area, the
customers there who could refer their neighbours, and who on the team covers it.

The area is a place's footprint (or a circle around the place when it has none) or a drawn
polygon. Counts are over the customers the caller can see.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from geoalchemy2 import Geography, Geometry
from geoalchemy2.shape import to_shape
from shapely.geometry import mapping
from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    and_,
    cast,
    func,
    literal,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.security import Principal
from backend.common.geo import area_element
from backend.customers.services import CustomerService
from backend.db.models import Customer as CustomerRow
from backend.db.models import Place as PlaceRow
from backend.db.models import Territory as TerritoryRow
from backend.db.models import User as UserRow
from backend.errors import Forbidden, NotFound
from backend.geofences.services import TerritoryService
from backend.market.schemas import Coverage, MarketView, Referrer
from backend.org.services import UserService
from backend.places.queries import area_of
from backend.places.services import PlaceService


class MarketService:
    """Every figure here counts only rows the caller may read: each query takes its rows'
    scope from the service that owns them (`visible()`), the same condition that decides a
    404 there. An agent learns nothing here of a place or a customer they cannot open."""

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        if principal.is_store_app:
            raise Forbidden("store apps have no access to the market view")
        self.session = session
        self.p = principal

    async def for_area(self, geojson: Any) -> MarketView:
        element = area_element(geojson, "area")  # 422 naming `area` when invalid
        return await self._view(json.dumps(mapping(to_shape(element))))

    async def for_place(self, place_id: uuid.UUID, radius_m: float) -> MarketView:
        place = await PlaceService(self.session, self.p).get(place_id)  # access and 404
        area = await area_of(self.session, self.p.tenant_id, place.id, radius_m)
        if area is None:
            raise NotFound("no such place")
        return await self._view(area)

    async def _view(self, area: str) -> MarketView:
        tenant = self.p.tenant_id
        shape = func.ST_GeomFromGeoJSON(literal(area))
        region = cast(shape, Geography(srid=4326))

        def inside(col: Any) -> ColumnElement[bool]:
            # `&&` first: leakproof, so the GiST index serves it under row-level security.
            return and_(col.op("&&")(region), func.ST_Intersects(col, region))

        customers = and_(
            CustomerRow.tenant_id == tenant,
            inside(CustomerRow.location),
            CustomerService(self.session, self.p).visible(),
        )
        places = and_(
            PlaceRow.tenant_id == tenant,
            inside(PlaceRow.location),
            PlaceService(self.session, self.p).visible(),
        )
        status = CustomerRow.status
        counts = (
            await self.session.execute(
                select(
                    select(func.ST_Area(region)).scalar_subquery().label("area_m2"),
                    select(func.sum(PlaceRow.household_count))
                    .where(places)
                    .scalar_subquery()
                    .label("households"),
                    func.count().filter(status == "customer").label("customers"),
                    func.count().filter(status == "prospect").label("prospects"),
                    func.count().filter(status == "dormant").label("dormant"),
                    func.count().filter(CustomerRow.do_not_visit).label("do_not_visit"),
                ).where(customers)
            )
        ).one()
        referrers = await self._referrers(customers)
        coverage = await self._coverage(customers, cast(shape, Geometry(srid=4326)))
        households = int(counts.households) if counts.households is not None else None
        return MarketView(
            area_m2=round(float(counts.area_m2 or 0.0), 1),
            households=households,
            customers=counts.customers,
            prospects=counts.prospects,
            dormant=counts.dormant,
            do_not_visit=counts.do_not_visit,
            penetration=round(counts.customers / households, 4) if households else None,
            referrers=referrers,
            coverage=coverage,
        )

    async def _referrers(self, customers: ColumnElement[bool]) -> list[Referrer]:
        """The area's ten most valuable customers in touch within the year: who to ask
        for introductions."""
        days = cast(
            func.extract("epoch", func.now() - CustomerRow.last_contact_at) / 86400, Integer
        )
        rows = (
            await self.session.execute(
                select(
                    CustomerRow.id,
                    CustomerRow.name,
                    cast(CustomerRow.value, Float).label("value"),
                    CustomerRow.assigned_agent_id,
                    days.label("days"),
                )
                .where(
                    customers,
                    CustomerRow.status == "customer",
                    ~CustomerRow.do_not_visit,
                    CustomerRow.last_contact_at > func.now() - text("interval '365 days'"),
                )
                .order_by(
                    CustomerRow.value.desc(), CustomerRow.last_contact_at.desc(), CustomerRow.id
                )
                .limit(10)
            )
        ).all()
        return [
            Referrer(
                customer_id=r.id,
                name=r.name,
                value=r.value,
                last_contact_days=r.days,
                agent_id=r.assigned_agent_id,
            )
            for r in rows
        ]

    async def _coverage(self, customers: ColumnElement[bool], shape: Any) -> list[Coverage]:
        """Who covers the area: the agents the caller's customers there are assigned to, and
        those whose territory (one the caller may read) overlaps it; only people the caller
        may see (an agent: their own team)."""
        assigned = dict(
            (
                await self.session.execute(
                    select(CustomerRow.assigned_agent_id, func.count())
                    .where(customers, CustomerRow.assigned_agent_id.is_not(None))
                    .group_by(CustomerRow.assigned_agent_id)
                )
            ).all()
        )
        territory = set(
            await self.session.scalars(
                select(TerritoryRow.agent_id)
                .distinct()
                .where(
                    TerritoryRow.tenant_id == self.p.tenant_id,
                    TerritoryRow.agent_id.is_not(None),
                    TerritoryRow.geom.op("&&")(shape),
                    func.ST_Intersects(TerritoryRow.geom, shape),
                    TerritoryService(self.session, self.p).visible(),
                )
            )
        )
        ids = set(assigned) | territory
        if not ids:
            return []
        people = (
            await self.session.execute(
                select(UserRow.id, UserRow.name).where(
                    UserRow.tenant_id == self.p.tenant_id,
                    UserRow.id.in_(ids),
                    UserService(self.session, self.p).colleagues(),
                )
            )
        ).all()
        found = [
            Coverage(
                agent_id=u.id,
                name=u.name,
                customers=int(assigned.get(u.id, 0)),
                territory=u.id in territory,
            )
            for u in people
        ]
        return sorted(found, key=lambda c: (-c.customers, c.name))
