"""Market view: households, customers, prospects and penetration in a place or an area, the
customers there who could refer their neighbours, and who on the team covers it.

The area is a place's footprint (or a circle around the place when it has none) or a drawn
polygon. Counts are over the customers the caller can see.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from geoalchemy2.shape import to_shape
from shapely.geometry import mapping
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.security import Principal
from backend.common.geo import area_element
from backend.db.models import Place
from backend.errors import Forbidden, NotFound
from backend.market.schemas import Coverage, MarketView, Referrer
from backend.places.services import PlaceService

# `{scope}` and `{people}` are fixed boolean SQL expressions over customers `c` and users `u`
# (the caller's rights, see MarketService._scope); every value is bound.
COUNTS = """
WITH a AS (SELECT ST_GeomFromGeoJSON(:area) AS g),
inside AS (
    SELECT c.* FROM customers c, a
    WHERE c.tenant_id = :tenant AND c.location && a.g::geography
      AND ST_Intersects(c.location, a.g::geography) AND ({scope})
)
SELECT
    (SELECT ST_Area(a.g::geography) FROM a) AS area_m2,
    (SELECT sum(p.household_count) FROM places p, a
      WHERE p.tenant_id = :tenant AND p.location && a.g::geography
        AND ST_Intersects(p.location, a.g::geography)) AS households,
    (SELECT count(*) FILTER (WHERE status = 'customer') FROM inside) AS customers,
    (SELECT count(*) FILTER (WHERE status = 'prospect') FROM inside) AS prospects,
    (SELECT count(*) FILTER (WHERE status = 'dormant') FROM inside) AS dormant,
    (SELECT count(*) FILTER (WHERE do_not_visit) FROM inside) AS do_not_visit
"""

REFERRERS = """
WITH a AS (SELECT ST_GeomFromGeoJSON(:area) AS g)
SELECT c.id, c.name, c.value::float8 AS value, c.assigned_agent_id,
       (extract(epoch FROM now() - c.last_contact_at) / 86400)::int AS days
FROM customers c, a
WHERE c.tenant_id = :tenant AND c.location && a.g::geography
      AND ST_Intersects(c.location, a.g::geography) AND ({scope})
  AND c.status = 'customer' AND NOT c.do_not_visit
  AND c.last_contact_at > now() - interval '365 days'
ORDER BY c.value DESC, c.last_contact_at DESC, c.id
LIMIT 10
"""

COVERAGE = """
WITH a AS (SELECT ST_GeomFromGeoJSON(:area) AS g),
assigned AS (
    SELECT c.assigned_agent_id AS agent_id, count(*) AS customers
    FROM customers c, a
    WHERE c.tenant_id = :tenant AND c.location && a.g::geography
      AND ST_Intersects(c.location, a.g::geography) AND ({scope})
      AND c.assigned_agent_id IS NOT NULL
    GROUP BY 1
),
territory AS (
    SELECT DISTINCT t.agent_id FROM territories t, a
    WHERE t.tenant_id = :tenant AND t.agent_id IS NOT NULL AND t.geom && a.g
      AND ST_Intersects(t.geom, a.g)
)
SELECT u.id, u.name, coalesce(s.customers, 0) AS customers, (t.agent_id IS NOT NULL) AS territory
FROM users u
LEFT JOIN assigned s ON s.agent_id = u.id
LEFT JOIN territory t ON t.agent_id = u.id
WHERE u.tenant_id = :tenant AND (s.agent_id IS NOT NULL OR t.agent_id IS NOT NULL)
  AND ({people})
ORDER BY customers DESC, u.name
"""


class MarketService:
    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        if principal.is_store_app:
            raise Forbidden("store apps have no access to the market view")
        self.session = session
        self.p = principal

    def _scope(self) -> tuple[str, str, dict[str, Any]]:
        """(customers the caller sees, colleagues the caller sees, their parameters)."""
        if self.p.is_admin:
            return "true", "true", {}
        subtree = (
            "{col} IN (SELECT x.id FROM org_units x WHERE x.tenant_id = :tenant "
            "AND x.path @> ARRAY[CAST(:unit AS uuid)])"
        )
        people = subtree.format(col="u.org_unit_id")
        if self.p.is_agent:
            return (
                "c.assigned_agent_id = :me",
                people,
                {"me": self.p.id, "unit": self.p.org_unit_id},
            )
        return subtree.format(col="c.org_unit_id"), people, {"unit": self.p.org_unit_id}

    async def for_area(self, geojson: Any) -> MarketView:
        element = area_element(geojson, "area")  # 422 naming `area` when invalid
        return await self._view(json.dumps(mapping(to_shape(element))))

    async def for_place(self, place_id: uuid.UUID, radius_m: float) -> MarketView:
        place = await PlaceService(self.session, self.p).get(place_id)  # access and 404
        row = await self.session.scalar(
            select(Place.footprint).where(Place.tenant_id == self.p.tenant_id, Place.id == place.id)
        )
        if row is not None:
            area = json.dumps(mapping(to_shape(row)))
        else:
            area = await self.session.scalar(
                text(
                    "SELECT ST_AsGeoJSON(ST_Buffer(location, :r)::geometry) FROM places "
                    "WHERE tenant_id = :t AND id = :id"
                ),
                {"r": radius_m, "t": self.p.tenant_id, "id": place.id},
            )
        if area is None:
            raise NotFound("no such place")
        return await self._view(area)

    async def _view(self, area: str) -> MarketView:
        scope, people, extra = self._scope()
        params = {"area": area, "tenant": self.p.tenant_id, **extra}
        counts = (await self.session.execute(text(COUNTS.format(scope=scope)), params)).one()
        referrers = (await self.session.execute(text(REFERRERS.format(scope=scope)), params)).all()
        coverage = (
            await self.session.execute(text(COVERAGE.format(scope=scope, people=people)), params)
        ).all()
        households = int(counts.households) if counts.households is not None else None
        return MarketView(
            area_m2=round(float(counts.area_m2), 1),
            households=households,
            customers=counts.customers,
            prospects=counts.prospects,
            dormant=counts.dormant,
            do_not_visit=counts.do_not_visit,
            penetration=round(counts.customers / households, 4) if households else None,
            referrers=[
                Referrer(
                    customer_id=r.id,
                    name=r.name,
                    value=r.value,
                    last_contact_days=r.days,
                    agent_id=r.assigned_agent_id,
                )
                for r in referrers
            ],
            coverage=[
                Coverage(agent_id=r.id, name=r.name, customers=r.customers, territory=r.territory)
                for r in coverage
            ],
        )
