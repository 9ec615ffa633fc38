"""'I have N free minutes here': customers that fit the time, ranked by value per minute.

Candidates come from one PostGIS query: nearest first on the customers' GiST index (a KNN
scan that stops after a few times as many rows as suggestions asked for, ``pool_size``).
Each is then checked with the planner's travel-time model: travel there, the visit (waiting
for the customer's preferred hours if that still fits) and travel on to the next commitment
must fit in the free time.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.scope import require_agent
from backend.auth.security import Principal
from backend.campaigns.services import campaigns_of, running_campaigns
from backend.customers.scoring import (
    LEARNED,
    PRIOR_RATE,
    WEIGHT_ORDER,
    adjusted,
    array_weights,
    base_sql,
    reasons,
    score_sql,
    stored_weights_sql,
    weight_vector,
)
from backend.db.driver import raw_connection
from backend.errors import Forbidden, Invalid
from backend.plans.problem import preferred_windows
from backend.plans.schemas import AgentProfileIn
from backend.plans.services import PlanService
from backend.recommendations.schemas import (
    MAX_FREE_MIN,
    AlongRouteItem,
    AlongRouteResult,
    FreeTimeQuery,
    FreeTimeResult,
    Recommendation,
    SegmentLearning,
)
from backend.roads.services import networks
from backend.tenants.settings import ScoreWeights
from routing.roads import RoadTravel
from routing.travel import GeoPoint, HaversineTravel, TravelMode, TravelTimes

RECENT_DAYS = 14  # a customer visited this recently is not suggested again

# Candidates per query: the nearest, about four times as many as suggestions asked for
# (rounded up to tens, so only a few statements get prepared), within bounds. Measured on the
# benchmark's 1M prospects (docs/recommendations.md): the value per minute of the top 20
# from the nearest 50 / 100 / 150 / 1,000 is 99.3 / 99.7 / 99.8 / 100 % of the best, while
# each further candidate is one more random heap page read.
POOL_PER_ITEM = 4
POOL_MIN, POOL_MAX = 50, 400
POOL_WIDEN = 4  # when too few of the pool fit, the next query's pool is this much larger


def pool_size(limit: int) -> int:
    return min(POOL_MAX, max(POOL_MIN, POOL_PER_ITEM * 10 * -(-limit // 10)))


# The hot path of "nearby", in one round trip: raw asyncpg (a prepared statement, records
# without the ORM's row processing), only SQL written here formatted in, every value bound.
# `ctx` reads the agent's context once (profile, what the team's outcomes taught, the
# tenant's weights, whether a campaign runs that day); every row carries it (the first is
# read) and the LEFT JOIN keeps one row when there is no candidate. Empty preferred hours
# come back as NULL so most rows decode no JSON. The pool is a literal: with `LIMIT $n`
# PostgreSQL never trusts the generic plan and plans each call anew (about 1 ms here).
# $1 tenant, $2 agent, $3 agent's unit, $4 lon, $5 lat, $6 visited-recently cutoff, $7 now,
# $8.. the default weights (WEIGHT_ORDER).
_FREE_TIME = (
    """
WITH ctx AS MATERIALIZED (
    SELECT (SELECT settings FROM agent_profiles WHERE tenant_id = $1 AND user_id = $2)
               AS settings,
           (SELECT coalesce(json_agg(json_build_object(
                     'segment', segment, 'talks', talks, 'conversions', conversions,
                     'not_home', not_home, 'rate', rate, 'factor', factor)), '[]'::json)
            FROM segment_learning WHERE tenant_id = $1) AS learned,
           EXISTS (SELECT 1 FROM campaigns k
                   WHERE k.tenant_id = $1
                     AND $7::timestamptz::date BETWEEN k.starts_on AND k.ends_on)
               AS campaigns_running,
           """  # noqa: S608 - the scoring module's SQL, constants
    + ",\n           ".join(
        f"{w} AS w{i}" for i, w in enumerate(stored_weights_sql("t.settings", 8), start=1)
    )
    + """
    FROM (SELECT) AS one LEFT JOIN tenants t ON t.id = $1
)
SELECT ctx.settings, ctx.learned, ctx.campaigns_running,
       n.id, n.name, n.status, n.life_stage, n.hours, n.value, n.last_contact_at, n.score,
       n.rfm_r, n.rfm_f, n.rfm_m, n.rfm_recency_days, n.churn_risk, n.distance_m,
       ST_Y(n.location::geometry) AS lat, ST_X(n.location::geometry) AS lon
FROM ctx
LEFT JOIN LATERAL (
    SELECT c.id, c.name, c.status, c.location, c.life_stage,
           NULLIF(c.preferred_hours, '[]'::jsonb) AS hours, c.value::float8 AS value,
           c.last_contact_at, c.rfm_r, c.rfm_f, c.rfm_m, c.rfm_recency_days, c.churn_risk,
           ("""
    + base_sql("$7::timestamptz", [f"ctx.w{i}" for i in range(1, len(WEIGHT_ORDER) + 1)])
    + """)::float8 AS score,
           c.location <-> p.pt AS distance_m
    FROM customers c,
         (SELECT ST_SetSRID(ST_MakePoint($4, $5), 4326)::geography AS pt) p
    WHERE c.tenant_id = $1 AND NOT c.do_not_visit
      AND (c.assigned_agent_id = $2
           OR (c.assigned_agent_id IS NULL AND c.org_unit_id IN (
                 SELECT u.id FROM org_units u
                 WHERE u.tenant_id = $1 AND u.path @> ARRAY[$3::uuid])))
      AND NOT EXISTS (
            SELECT 1 FROM visits v
            WHERE v.tenant_id = c.tenant_id AND v.customer_id = c.id
              AND v.retracted_at IS NULL AND v.arrived_at > $6)
    ORDER BY c.location <-> p.pt
    LIMIT {pool}
) n ON true
"""
)


@lru_cache(maxsize=16)
def free_time_sql(pool: int) -> str:
    return _FREE_TIME.replace("{pool}", str(int(pool)))


# Only on days a campaign runs, a second round trip: the candidates' boosts, set-based.
CAMPAIGN_BOOSTS = campaigns_of("$2::uuid[]", "$3::timestamptz::date")
PROFILE = "SELECT settings FROM agent_profiles WHERE tenant_id = $1 AND user_id = $2"

ALONG = (
    """
SELECT c.id, c.name, c.status, c.life_stage, c.value::float8 AS value, c.last_contact_at,
       c.rfm_r, c.rfm_f, c.rfm_m, c.rfm_recency_days, c.churn_risk,
       ("""  # noqa: S608 - the scoring module's SQL, constants
    + score_sql("$5::timestamptz", array_weights("$7::float8[]"))
    + """)::float8 AS score,
       ST_Y(c.location::geometry) AS lat, ST_X(c.location::geometry) AS lon,
       ST_Distance(c.location, p.route) AS off_route_m, cb.names, cb.reached, cb.converted
FROM plans p
JOIN users a ON a.tenant_id = p.tenant_id AND a.id = p.agent_id
JOIN customers c ON c.tenant_id = p.tenant_id
"""
    + running_campaigns("c.id", "$5::timestamptz::date")
    + """
WHERE p.tenant_id = $1 AND p.id = $2 AND NOT c.do_not_visit
  AND (c.assigned_agent_id = p.agent_id
       OR (c.assigned_agent_id IS NULL AND c.org_unit_id IN (
             SELECT u.id FROM org_units u
             WHERE u.tenant_id = $1 AND u.path @> ARRAY[a.org_unit_id])))
  AND c.location && fieldsense_box(p.route, $3) AND ST_DWithin(c.location, p.route, $3)
  AND NOT EXISTS (SELECT 1 FROM plan_stops ps
                  WHERE ps.tenant_id = $1 AND ps.plan_id = $2 AND ps.customer_id = c.id)
  AND NOT EXISTS (
        SELECT 1 FROM visits v
        WHERE v.tenant_id = c.tenant_id AND v.customer_id = c.id
          AND v.retracted_at IS NULL AND v.arrived_at > $4)
ORDER BY score DESC, off_route_m, c.id
LIMIT $6
"""
)
# The plan's places in order: where it starts, its stops (seq 1..n), where it ends. Its route
# line follows the streets when it was planned on roads, so the places come from the stops.
STOPS_PATH = """
SELECT ST_Y(pt) AS lat, ST_X(pt) AS lon FROM (
    SELECT 0 AS seq, ST_StartPoint(route::geometry) AS pt
    FROM plans WHERE tenant_id = $1 AND id = $2
    UNION ALL
    SELECT s.seq, c.location::geometry
    FROM plan_stops s JOIN customers c ON c.tenant_id = s.tenant_id AND c.id = s.customer_id
    WHERE s.tenant_id = $1 AND s.plan_id = $2
    UNION ALL
    SELECT 2147483647, ST_EndPoint(route::geometry)
    FROM plans WHERE tenant_id = $1 AND id = $2
) places ORDER BY seq
"""
WEIGHTS = "SELECT settings->'score_weights' FROM tenants WHERE id = $1"
PROVIDER = "SELECT settings->>'travel_provider' FROM tenants WHERE id = $1"


DEFAULT_WEIGHTS = weight_vector(ScoreWeights())


def weights_of(raw: Any) -> list[float]:
    """The tenant's score weights (its settings' `score_weights`, or the defaults)."""
    return weight_vector(ScoreWeights.model_validate(_json(raw) or {}))


def _json(value: Any) -> Any:
    """JSONB from asyncpg: decoded already when the session's codec is on the connection."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def fit(
    now: datetime,
    free_s: int,
    travel_s: int,
    service_s: int,
    onward_s: int,
    windows: list[tuple[datetime, datetime]],
) -> tuple[int, datetime] | None:
    """Seconds to spare and the start of the visit, or None when it does not fit.

    With preferred hours, the visit starts inside one of them (waiting if need be)."""
    arrival = now + timedelta(seconds=travel_s)
    start = arrival
    if windows:
        for a, b in windows:
            if b >= arrival:
                start = max(arrival, a)
                break
        else:
            return None
    used = (start - now).total_seconds() + service_s + onward_s
    spare = free_s - int(used)
    return (spare, start) if spare >= 0 else None


async def learned_by_segment(db: Any, tenant_id: uuid.UUID) -> dict[str, Any]:
    return {r["segment"]: dict(r) for r in await db.fetch(LEARNED, tenant_id)}


def detours(
    path: list[GeoPoint],
    places: list[GeoPoint],
    mode: TravelMode,
    start: datetime,
    end: datetime,
    travel: TravelTimes,
) -> list[tuple[int, int]]:
    """For each place: (extra seconds of travel, leg index) of its cheapest insertion, from
    one matrix over the path and the places (roads are not symmetric)."""
    legs = len(path) - 1
    if legs < 1 or not places:
        return [(0, 0) for _ in places]
    seconds = np.array(travel.matrix(path + places, mode, start, end).seconds, dtype=np.int64)
    m = len(path)
    direct = seconds[np.arange(legs), np.arange(1, m)]  # path[i] -> path[i + 1]
    to_place = seconds[:legs, m:]  # path[i] -> place
    from_place = seconds[m:, 1:m].T  # place -> path[i + 1]
    extra = to_place + from_place - direct[:, None]
    best = np.argmin(extra, axis=0)
    return [(max(0, int(extra[b, k])), int(b)) for k, b in enumerate(best.tolist())]


def _fitting(
    travel: HaversineTravel | RoadTravel,
    q: FreeTimeQuery,
    rows: list[Any],
    lat: np.ndarray,
    lon: np.ndarray,
    now: datetime,
    free_s: int,
    service_s: int,
    mode: TravelMode,
    tz: tzinfo,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[int, datetime]]:
    """Travel there and on, the spare time and whether it fits, for every candidate at once
    (numpy); only customers with preferred hours that day take the slower path through `fit`
    (the visit may have to wait for their hours): (there, onward, spare, fits, starts)."""
    end = now + timedelta(seconds=free_s)
    origins = [GeoPoint(q.position.lat, q.position.lon)]
    if q.next is not None:
        origins.append(GeoPoint(q.next.lat, q.next.lon))
    legs = travel.seconds_from(origins, lat, lon, mode, now, end)
    there = legs[0]
    onward = legs[1] if q.next is not None else np.zeros(len(rows), dtype=np.int64)
    spare = free_s - service_s - there - onward
    fits = spare >= 0
    starts: dict[int, datetime] = {}
    local_day = now.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    for k, r in enumerate(rows):
        if r["hours"] is None:
            continue
        windows = sorted(preferred_windows(_json(r["hours"]), local_day.date(), tz))
        if not windows:  # no preferred hours on this day: nothing to wait for
            continue
        fitted = fit(now, free_s, int(there[k]), service_s, int(onward[k]), windows)
        fits[k] = fitted is not None
        if fitted is not None:
            spare[k], starts[k] = fitted
    return there, onward, spare, fits, starts


class RecommendationService:
    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        if principal.is_store_app:
            raise Forbidden("store apps have no access to recommendations")
        self.session = session
        self.p = principal

    async def learned(self) -> list[SegmentLearning]:
        db = await raw_connection(self.session)
        rows = await learned_by_segment(db, self.p.tenant_id)
        return [SegmentLearning(prior_rate=PRIOR_RATE, **r) for r in rows.values()]

    async def along_route(
        self, plan_id: uuid.UUID, corridor_m: float, service_min: int, limit: int
    ) -> AlongRouteResult:
        """Prospects within ``corridor_m`` of a plan's route, cheapest detours per value first."""
        plan = await PlanService(self.session, self.p).read(plan_id)  # access and 404
        db = await raw_connection(self.session)
        now = datetime.now(UTC)
        rows = await db.fetch(
            ALONG,
            self.p.tenant_id,
            plan_id,
            corridor_m,
            now - timedelta(days=RECENT_DAYS),
            now,
            limit * 5,
            weights_of(await db.fetchval(WEIGHTS, self.p.tenant_id)),
        )
        path = [
            GeoPoint(r["lat"], r["lon"])
            for r in await db.fetch(STOPS_PATH, self.p.tenant_id, plan_id)
        ]
        settings = await db.fetchval(PROFILE, self.p.tenant_id, plan.agent_id)
        mode = AgentProfileIn.model_validate(_json(settings)).mode if settings else TravelMode.CAR
        places = [GeoPoint(r["lat"], r["lon"]) for r in rows]
        travel = networks.travel(await db.fetchval(PROVIDER, self.p.tenant_id))
        extra = await asyncio.to_thread(
            detours, path, places, mode, plan.depart_at, plan.arrive_at, travel
        )
        service_s = service_min * 60
        ranked = sorted(
            zip(rows, extra, strict=True),
            key=lambda x: (
                -float(x[0]["score"]) / max(1.0, (x[1][0] + service_s) / 60),
                str(x[0]["id"]),
            ),
        )[:limit]
        learned = await learned_by_segment(db, self.p.tenant_id) if ranked else {}
        items = []
        for r, (detour_s, leg) in ranked:
            why = reasons(dict(r), now, learned, list(r["names"] or []))
            why.append(
                f"{int(r['off_route_m'])} m off your route, {round(detour_s / 60)} min detour"
            )
            items.append(
                AlongRouteItem(
                    customer_id=r["id"],
                    name=r["name"],
                    status=r["status"],
                    lat=r["lat"],
                    lon=r["lon"],
                    off_route_m=int(r["off_route_m"]),
                    after_seq=leg,
                    detour_s=detour_s,
                    service_s=service_s,
                    score=round(float(r["score"]), 2),
                    value_per_min=round(
                        float(r["score"]) / max(1.0, (detour_s + service_s) / 60), 3
                    ),
                    reasons=why,
                )
            )
        return AlongRouteResult(plan_id=plan_id, corridor_m=corridor_m, items=items)

    async def free_time(self, q: FreeTimeQuery) -> FreeTimeResult:
        if q.agent_id is None and not self.p.is_agent:
            raise Invalid("say which agent the free time is for", field="agent_id")
        if self.p.is_agent and q.agent_id in (None, self.p.id):
            # The caller, already checked by the auth middleware: no need to read them again.
            agent_id, unit_id = self.p.id, self.p.org_unit_id
        else:
            agent = await require_agent(self.session, self.p, q.agent_id or self.p.id, "agent_id")
            agent_id, unit_id = agent.id, agent.org_unit_id
        now = q.at or datetime.now(UTC)
        free_s = _free_seconds(q, now)

        db = await raw_connection(self.session)
        road = networks.travel(await db.fetchval(PROVIDER, self.p.tenant_id))
        travel = road if isinstance(road, RoadTravel) else HaversineTravel()
        pool = pool_size(q.limit)
        while True:
            rows = await db.fetch(
                free_time_sql(pool),
                self.p.tenant_id,
                agent_id,
                unit_id,
                q.position.lon,
                q.position.lat,
                now - timedelta(days=RECENT_DAYS),
                now,
                *DEFAULT_WEIGHTS,
            )
            context = rows[0]  # the agent's context is on every row, and there always is one
            settings = context["settings"]
            profile = AgentProfileIn.model_validate(_json(settings)) if settings else None
            mode = q.mode or (profile.mode if profile else TravelMode.CAR)
            tz = ZoneInfo(profile.timezone) if profile else UTC
            service_s = q.service_min * 60
            result = FreeTimeResult(
                agent_id=agent_id, free_s=free_s, mode=mode, considered=0, items=[]
            )
            if context["id"] is None or free_s < service_s:
                return result
            lat, lon, base, distance = np.array(
                [(r["lat"], r["lon"], r["score"], r["distance_m"]) for r in rows],
                dtype=np.float64,
            ).T
            reach = travel.reach_m(mode, free_s - service_s)
            result.considered = int(np.count_nonzero(distance <= reach))
            args = (travel, q, rows, lat, lon, now, free_s, service_s, mode, tz)
            if isinstance(travel, RoadTravel):  # the routing server answers off the event loop
                there, onward, spare, fits, starts = await asyncio.to_thread(_fitting, *args)
            else:
                there, onward, spare, fits, starts = _fitting(*args)
            # Fewer fit than were asked for, though the farthest candidate would have fitted
            # for the travel (preferred hours, then, left the others out): the next ones may
            # fit too. Ask again for more, farther. (Where the travel is what does not fit,
            # farther candidates fit even less.)
            farthest = int(np.argmax(distance))
            if (
                np.count_nonzero(fits) < q.limit
                and len(rows) == pool < POOL_MAX
                and there[farthest] + onward[farthest] <= free_s - service_s
            ):
                pool = min(POOL_MAX, pool * POOL_WIDEN)
                continue
            break
        learned = {row["segment"]: row for row in _json(context["learned"])}
        factors = {k: float(v["factor"]) for k, v in learned.items()}
        factor: np.ndarray | float = 1.0
        if factors:
            factor = np.array([factors.get(r["life_stage"] or "unknown", 1.0) for r in rows])
        campaigns: dict[uuid.UUID, Any] = {}
        boost: np.ndarray | float = 0.0
        if context["campaigns_running"]:
            ids = [r["id"] for r in rows]
            found = await db.fetch(CAMPAIGN_BOOSTS, self.p.tenant_id, ids, now)
            campaigns = {c["customer_id"]: c for c in found}
            boost = np.array([float(campaigns[i]["boost"]) if i in campaigns else 0.0 for i in ids])
        score = adjusted(base, factor, boost)
        per_min = score / np.maximum(1.0, (free_s - spare) / 60)
        # The best `limit` by value per minute (ties kept, then ordered by distance and id).
        chosen = np.flatnonzero(fits)
        if len(chosen) > q.limit:
            cut = -np.partition(-per_min[chosen], q.limit - 1)[q.limit - 1]
            chosen = chosen[per_min[chosen] >= cut]
        value = per_min.tolist()
        order = sorted(chosen.tolist(), key=lambda k: (-value[k], distance[k], rows[k]["id"]))
        items = []
        for k, travel_s, onward_s, spare_s, score_k in zip(
            order,
            there[order].tolist(),
            onward[order].tolist(),
            spare[order].tolist(),
            score[order].tolist(),
            strict=True,
        ):
            r = rows[k]
            joined = campaigns.get(r["id"])
            row = r if joined is None else {**r, **joined}
            why = reasons(row, now, learned, list(row["names"] or []) if joined else None)
            why.append(f"{int(r['distance_m'])} m away, {round(travel_s / 60)} min by {mode.value}")
            if k in starts:
                why.append(f"prefers visits from {starts[k].astimezone(tz):%H:%M}")
            times = (travel_s, service_s, onward_s, spare_s)
            items.append(_recommendation(r, times, score_k, value[k], why))
        result.items = items[: q.limit]
        return result


def _free_seconds(q: FreeTimeQuery, now: datetime) -> int:
    """The free time asked for: minutes, or until the next commitment (422 naming the field
    when it is not after now, more than a day away, or not given)."""
    if q.free_minutes is not None:
        return q.free_minutes * 60
    if q.until is None:
        raise Invalid("give free_minutes or until", field="free_minutes")
    free_s = int((q.until - now).total_seconds())
    if free_s <= 0:
        raise Invalid("the next commitment is not after now", field="until")
    if free_s > MAX_FREE_MIN * 60:
        raise Invalid("more than 24 hours away", field="until")
    return free_s


def _recommendation(
    r: Any, times: tuple[int, int, int, int], score: float, value: float, why: list[str]
) -> Recommendation:
    """One suggestion: the customer, its times (there, service, onward, spare), score,
    value per minute and reasons."""
    travel_s, service_s, onward_s, spare_s = times
    return Recommendation(
        customer_id=r["id"],
        name=r["name"],
        status=r["status"],
        lat=r["lat"],
        lon=r["lon"],
        distance_m=int(r["distance_m"]),
        travel_s=travel_s,
        service_s=service_s,
        onward_s=onward_s,
        spare_s=spare_s,
        score=round(score, 2),
        value_per_min=round(value, 3),
        reasons=why,
    )
