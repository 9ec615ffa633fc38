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
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.scope import require_agent
from backend.auth.security import Principal
from backend.customers.scoring import (
    LEARNED,
    PRIOR_RATE,
    adjusted,
    reasons,
    weight_vector,
)
from backend.db.driver import raw_connection
from backend.errors import Forbidden, Invalid
from backend.i18n import N_, tr
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
from backend.recommendations.statements import (
    ALONG,
    CAMPAIGN_BOOSTS,
    POOL_MAX,
    POOL_WIDEN,
    PROFILE,
    PROVIDER,
    RECENT_DAYS,
    STOPS_PATH,
    WEIGHTS,
    free_time_sql,
    pool_size,
)
from backend.roads.services import networks
from backend.tenants.settings import ScoreWeights
from backend.tracking.queries import plan_fulfilment
from routing.roads import RoadTravel
from routing.travel import GeoPoint, HaversineTravel, TravelMode, TravelTimes

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
        plan = await PlanService(self.session, self.p, plan_fulfilment()).read(plan_id)  # 404
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
                N_(f"{int(r['off_route_m'])} m off your route, {round(detour_s / 60)} min detour")
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
                    reasons=[tr(x) for x in why],
                )
            )
        return AlongRouteResult(plan_id=plan_id, corridor_m=corridor_m, items=items)

    async def free_time(self, q: FreeTimeQuery) -> FreeTimeResult:
        agent_id, unit_id = await self._agent_of(q)
        now = q.at or datetime.now(UTC)
        free_s = _free_seconds(q, now)
        db = await raw_connection(self.session)
        road = networks.travel(await db.fetchval(PROVIDER, self.p.tenant_id))
        travel = road if isinstance(road, RoadTravel) else HaversineTravel()
        found = await self._fitting_nearest(db, travel, q, agent_id, unit_id, now, free_s)
        result = FreeTimeResult(
            agent_id=agent_id, free_s=free_s, mode=found.mode, considered=0, items=[]
        )
        if found.fitted is None:
            return result
        result.considered = found.considered
        score, learned, campaigns = await self._scores(db, found, now)
        result.items = _ranked(q, found, score, learned, campaigns, now, free_s)
        return result

    async def _agent_of(self, q: FreeTimeQuery) -> tuple[uuid.UUID, uuid.UUID | None]:
        """The agent the free time is for, and their unit (a 4xx when the caller may not)."""
        if q.agent_id is None and not self.p.is_agent:
            raise Invalid("say which agent the free time is for", field="agent_id")
        if self.p.is_agent and q.agent_id in (None, self.p.id):
            # The caller, already checked by the auth middleware: no need to read them again.
            return self.p.id, self.p.org_unit_id
        agent = await require_agent(self.session, self.p, q.agent_id or self.p.id, "agent_id")
        return agent.id, agent.org_unit_id

    async def _fitting_nearest(
        self,
        db: Any,
        travel: HaversineTravel | RoadTravel,
        q: FreeTimeQuery,
        agent_id: uuid.UUID,
        unit_id: uuid.UUID | None,
        now: datetime,
        free_s: int,
    ) -> _Nearest:
        """The nearest candidates (one round trip) and which of them fit the free time. Fewer
        fit than were asked for, though the farthest candidate would have fitted for the
        travel (preferred hours, then, left the others out): the next ones may fit too, so it
        asks again for more, farther. (Where the travel is what does not fit, farther
        candidates fit even less.)"""
        pool = pool_size(q.limit)
        service_s = q.service_min * 60
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
            found = _Nearest(rows, context, mode, tz, service_s)
            if context["id"] is None or free_s < service_s:
                return found
            lat, lon, found.base, found.distance = np.array(
                [(r["lat"], r["lon"], r["score"], r["distance_m"]) for r in rows],
                dtype=np.float64,
            ).T
            reach = travel.reach_m(mode, free_s - service_s)
            found.considered = int(np.count_nonzero(found.distance <= reach))
            args = (travel, q, rows, lat, lon, now, free_s, service_s, mode, tz)
            if isinstance(travel, RoadTravel):  # the routing server answers off the event loop
                found.fitted = await asyncio.to_thread(_fitting, *args)
            else:
                found.fitted = _fitting(*args)
            there, onward, _, fits, _ = found.fitted
            farthest = int(np.argmax(found.distance))
            if not (
                np.count_nonzero(fits) < q.limit
                and len(rows) == pool < POOL_MAX
                and there[farthest] + onward[farthest] <= free_s - service_s
            ):
                return found
            pool = min(POOL_MAX, pool * POOL_WIDEN)

    async def _scores(
        self, db: Any, found: _Nearest, now: datetime
    ) -> tuple[np.ndarray, dict[str, Any], dict[uuid.UUID, Any]]:
        """The candidates' scores: their base score times what their segment taught, plus
        the boost of a running campaign (a second round trip only on days one runs)."""
        rows, context = found.rows, found.context
        learned = {row["segment"]: row for row in _json(context["learned"])}
        factors = {k: float(v["factor"]) for k, v in learned.items()}
        factor: np.ndarray | float = 1.0
        if factors:
            factor = np.array([factors.get(r["life_stage"] or "unknown", 1.0) for r in rows])
        campaigns: dict[uuid.UUID, Any] = {}
        boost: np.ndarray | float = 0.0
        if context["campaigns_running"]:
            ids = [r["id"] for r in rows]
            joined = await db.fetch(CAMPAIGN_BOOSTS, self.p.tenant_id, ids, now)
            campaigns = {c["customer_id"]: c for c in joined}
            boost = np.array([float(campaigns[i]["boost"]) if i in campaigns else 0.0 for i in ids])
        return adjusted(found.base, factor, boost), learned, campaigns


_Fitted = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[int, datetime]]


@dataclass(slots=True)
class _Nearest:
    """The nearest candidates of a free-time query and, once checked, which fit."""

    rows: list[Any]
    context: Any
    mode: TravelMode
    tz: tzinfo
    service_s: int
    base: np.ndarray = field(default_factory=lambda: np.zeros(0))
    distance: np.ndarray = field(default_factory=lambda: np.zeros(0))
    considered: int = 0
    fitted: _Fitted | None = None  # (there, onward, spare, fits, starts) of _fitting


def _ranked(
    q: FreeTimeQuery,
    found: _Nearest,
    score: np.ndarray,
    learned: dict[str, Any],
    campaigns: dict[uuid.UUID, Any],
    now: datetime,
    free_s: int,
) -> list[Recommendation]:
    """The best `limit` that fit, by value per minute (ties kept, then ordered by distance
    and id), each with its reasons."""
    rows, distance, mode = found.rows, found.distance, found.mode.value
    assert found.fitted is not None
    there, onward, spare, fits, starts = found.fitted
    per_min = score / np.maximum(1.0, (free_s - spare) / 60)
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
        why.append(N_(f"{int(r['distance_m'])} m away, {round(travel_s / 60)} min by {mode}"))
        if k in starts:
            why.append(N_(f"prefers visits from {starts[k].astimezone(found.tz):%H:%M}"))
        times = (travel_s, found.service_s, onward_s, spare_s)
        items.append(_recommendation(r, times, score_k, value[k], why))
    return items[: q.limit]


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
        reasons=[tr(x) for x in why],
    )
