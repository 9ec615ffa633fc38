"""The day as it happened, team figures, store figures; every read of a track is audited.

Access: an agent reads their own days; managers read the agents of their subtree (another
branch's agent is a 422 naming `agent_id`, as everywhere else); admins read all. Team
figures are for managers and admins over a unit of their subtree; store figures also for
the store app of that store. A day shows only the agent's working hours (the shift of their
planning profile, 09:00-18:00 local without one), and a manager's or admin's read of an
agent's day is written to the audit log.
"""

from __future__ import annotations

import json
import statistics
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.activity.day import day_timeline, path_m, plan_against
from backend.activity.schemas import (
    AgentFigures,
    AuditOut,
    DayActivity,
    DwellBucket,
    SegmentConversion,
    StoreFigures,
    TeamFigures,
)
from backend.auth.scope import require_agent, subtree_unit_ids
from backend.auth.security import Principal
from backend.customers.queries import customers
from backend.db.driver import raw_connection
from backend.db.models import AuditEntry, OrgUnit, Place, User
from backend.errors import Forbidden, Invalid, NotFound
from backend.geofences.queries import geofences
from backend.plans.queries import active_plans, plan_stops, profile_of
from backend.plans.schemas import AgentProfileIn
from backend.privacy.services import audit_read
from backend.tenants.settings import local_zone
from backend.tracking.queries import events, kept_points, visits

MAX_RANGE_DAYS = 366
DWELL_BUCKETS: tuple[tuple[int, int, str], ...] = (
    (0, 5, "< 5 min"),
    (5, 15, "5-15 min"),
    (15, 30, "15-30 min"),
    (30, 60, "30-60 min"),
    (60, 10**9, "60 min +"),
)
TALK_OUTCOMES = ("met", "declined", "appointment_set", "sale")
WIN_OUTCOMES = ("appointment_set", "sale")

PINGS = f"""
SELECT p.fix_time, p.lat, p.lon
FROM {kept_points()} p
JOIN devices d ON d.tenant_id = p.tenant_id AND d.id = p.device_id
WHERE p.tenant_id = $1 AND d.user_id = $2
  AND p.fix_time >= $3 AND p.fix_time < $4
ORDER BY p.fix_time
"""  # noqa: S608 - the tracking domain's relation
VISITS = f"""
SELECT v.id, v.arrived_at, v.departed_at, v.customer_id, c.name AS customer_name, v.place_id,
       v.source, v.outcome, coalesce(v.lat, ST_Y(c.location::geometry)) AS lat,
       coalesce(v.lon, ST_X(c.location::geometry)) AS lon
FROM {visits()} v
LEFT JOIN {customers()} c ON c.tenant_id = v.tenant_id AND c.id = v.customer_id
WHERE v.tenant_id = $1 AND v.agent_id = $2
  AND v.arrived_at >= $3 AND v.arrived_at < $4
ORDER BY v.arrived_at, v.id
"""  # noqa: S608 - the tracking and customers domains' relations
PLAN = f"""
SELECT p.id, ST_AsGeoJSON(p.route) AS route, p.travel FROM {active_plans()} p
WHERE p.tenant_id = $1 AND p.agent_id = $2 AND p.plan_date = $3
ORDER BY p.revision DESC LIMIT 1
"""  # noqa: S608 - the plans domain's relation
PROFILE = f"SELECT {profile_of('$1', '$2')}"
STOPS = f"""
SELECT s.seq, s.customer_id, c.name AS customer_name, s.start_at
FROM {plan_stops()} s
LEFT JOIN {customers()} c ON c.tenant_id = s.tenant_id AND c.id = s.customer_id
WHERE s.tenant_id = $1 AND s.plan_id = $2
ORDER BY s.seq
"""  # noqa: S608 - the plans and customers domains' relations
EVENTS = f"""
SELECT e.id, e.kind, e.occurred_at, e.fence_id, e.place_id, e.customer_id, e.visit_id
FROM {events()} e
JOIN devices d ON d.tenant_id = e.tenant_id AND d.id = e.device_id
WHERE e.tenant_id = $1 AND d.user_id = $2
  AND e.occurred_at >= $3 AND e.occurred_at < $4
ORDER BY e.occurred_at, e.id
LIMIT 1000
"""  # noqa: S608 - the tracking domain's relation

AGENT_FIGURES = f"""
WITH agents AS (
    SELECT u.id, u.name FROM users u
    WHERE u.tenant_id = $1 AND u.role = 'agent'
      AND u.org_unit_id IN (SELECT o.id FROM org_units o
                            WHERE o.tenant_id = $1 AND o.path @> ARRAY[$2::uuid])
), v AS (
    SELECT v.agent_id, count(*) AS visits, count(DISTINCT v.customer_id) AS contacted,
           count(*) FILTER (WHERE v.outcome IN ('appointment_set', 'sale')) AS conversions,
           count(*) FILTER (WHERE c.assigned_agent_id = v.agent_id) AS book_visits
    FROM {visits()} v
    LEFT JOIN {customers()} c ON c.tenant_id = v.tenant_id AND c.id = v.customer_id
    WHERE v.tenant_id = $1 AND v.agent_id IN (SELECT id FROM agents)
      AND v.arrived_at >= $3 AND v.arrived_at < $4
    GROUP BY v.agent_id
), book AS (
    SELECT c.assigned_agent_id AS agent_id, count(*) AS customers FROM {customers()} c
    WHERE c.tenant_id = $1 AND c.assigned_agent_id IN (SELECT id FROM agents)
    GROUP BY c.assigned_agent_id
), planned AS (
    SELECT p.agent_id, count(*) AS stops,
           count(*) FILTER (WHERE s.status IN ('fulfilled', 'done')) AS kept
    FROM {active_plans()} p
    JOIN {plan_stops()} s ON s.tenant_id = p.tenant_id AND s.plan_id = p.id
    WHERE p.tenant_id = $1 AND p.agent_id IN (SELECT id FROM agents)
      AND p.plan_date BETWEEN $5 AND $6
    GROUP BY p.agent_id
)
SELECT a.id, a.name, coalesce(v.visits, 0) AS visits, coalesce(v.contacted, 0) AS contacted,
       coalesce(v.conversions, 0) AS conversions, coalesce(v.book_visits, 0) AS book_visits,
       coalesce(book.customers, 0) AS book, coalesce(planned.stops, 0) AS planned,
       coalesce(planned.kept, 0) AS kept
FROM agents a
LEFT JOIN v ON v.agent_id = a.id
LEFT JOIN book ON book.agent_id = a.id
LEFT JOIN planned ON planned.agent_id = a.id
ORDER BY a.name, a.id
"""  # noqa: S608 - the tracking, plans and customers domains' relations
SEGMENTS = f"""
SELECT coalesce(c.life_stage, 'unknown') AS segment,
       count(*) FILTER (WHERE v.outcome IN ('met', 'declined', 'appointment_set', 'sale'))
           AS talks,
       count(*) FILTER (WHERE v.outcome IN ('appointment_set', 'sale')) AS conversions
FROM {visits()} v
JOIN users u ON u.tenant_id = v.tenant_id AND u.id = v.agent_id
JOIN {customers()} c ON c.tenant_id = v.tenant_id AND c.id = v.customer_id
WHERE v.tenant_id = $1 AND v.arrived_at >= $3 AND v.arrived_at < $4
  AND u.org_unit_id IN (SELECT o.id FROM org_units o
                        WHERE o.tenant_id = $1 AND o.path @> ARRAY[$2::uuid])
GROUP BY 1 ORDER BY 1
"""  # noqa: S608 - the tracking and customers domains' relations
UNTOUCHED = f"""
SELECT count(*) FROM {customers()} c
WHERE c.tenant_id = $1 AND NOT c.do_not_visit
  AND c.org_unit_id IN (SELECT o.id FROM org_units o
                        WHERE o.tenant_id = $1 AND o.path @> ARRAY[$2::uuid])
  AND (c.last_contact_at IS NULL OR c.last_contact_at < $3)
"""  # noqa: S608 - the customers domain's relation
HEATMAP = f"""
SELECT round(v.lat / $5) * $5 AS lat, round(v.lon / $5) * $5 AS lon, count(*) AS visits,
       count(DISTINCT v.agent_id) AS agents
FROM {visits()} v
JOIN users u ON u.tenant_id = v.tenant_id AND u.id = v.agent_id
WHERE v.tenant_id = $1 AND v.lat IS NOT NULL
  AND v.arrived_at >= $3 AND v.arrived_at < $4
  AND u.org_unit_id IN (SELECT o.id FROM org_units o
                        WHERE o.tenant_id = $1 AND o.path @> ARRAY[$2::uuid])
GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2
LIMIT 5000
"""  # noqa: S608 - the tracking domain's relation
STORE_VISITS = f"""
SELECT v.device_id, v.arrived_at, v.departed_at, v.source, v.also_seen_by
FROM {visits()} v
WHERE v.tenant_id = $1 AND v.place_id = $2
  AND v.arrived_at >= $3 AND v.arrived_at < $4
"""  # noqa: S608 - the tracking domain's relation
OUTER_FENCE = f"""
SELECT DISTINCT e.device_id FROM {events()} e
JOIN {geofences()} g ON g.tenant_id = e.tenant_id AND g.id = e.fence_id
WHERE e.tenant_id = $1 AND g.place_id = $2 AND e.kind = 'entered'
  AND e.occurred_at >= $3 AND e.occurred_at < $4
"""  # noqa: S608 - the tracking and geofences domains' relations


def check_range(since: date, until: date) -> int:
    if until < since:
        raise Invalid("until is before since", field="until")
    days = (until - since).days + 1
    if days > MAX_RANGE_DAYS:
        raise Invalid(f"at most {MAX_RANGE_DAYS} days at a time", field="until")
    return days


def _utc_range(since: date, until: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(since, time(0), tz)
    end = datetime.combine(until + timedelta(days=1), time(0), tz)
    return start, end


class ActivityService:
    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.p = principal

    async def _agent(self, agent_id: uuid.UUID) -> User:
        if self.p.is_store_app:
            raise Forbidden("store apps have no access to agents' days")
        return await require_agent(self.session, self.p, agent_id, "agent_id")

    async def _unit(self, unit_id: uuid.UUID) -> OrgUnit:
        if not (self.p.is_admin or self.p.is_manager):
            raise Forbidden("team figures are for managers and admins")
        stmt = select(OrgUnit).where(OrgUnit.tenant_id == self.p.tenant_id, OrgUnit.id == unit_id)
        if not self.p.is_admin:
            stmt = stmt.where(OrgUnit.id.in_(subtree_unit_ids(self.p)))
        unit = await self.session.scalar(stmt)
        if unit is None:
            raise NotFound(f"org unit {unit_id} not found", field="org_unit_id")
        return unit

    # --- one agent's day ---------------------------------------------------------------
    async def day(self, agent_id: uuid.UUID, day: date, now: datetime | None = None) -> DayActivity:
        agent = await self._agent(agent_id)
        db = await raw_connection(self.session)
        settings = await db.fetchval(PROFILE, self.p.tenant_id, agent.id)
        if isinstance(settings, str | bytes):
            settings = json.loads(settings)
        profile = AgentProfileIn.model_validate(settings) if settings else None
        tz = ZoneInfo(profile.timezone if profile else "UTC")
        start = datetime.combine(day, profile.shift_start if profile else time(9), tz)
        end = datetime.combine(day, profile.shift_end if profile else time(18), tz)
        args = (self.p.tenant_id, agent.id, start, end)
        pings = await db.fetch(PINGS, *args)
        visits = await db.fetch(VISITS, *args)
        events = await db.fetch(EVENTS, *args)
        plan = await db.fetchrow(PLAN, self.p.tenant_id, agent.id, day)
        stops = await db.fetch(STOPS, self.p.tenant_id, plan["id"]) if plan else []
        now = now or datetime.now(UTC)

        track = [(r["fix_time"], r["lat"], r["lon"]) for r in pings]
        planned_ids = {s["customer_id"] for s in stops}
        timeline = day_timeline(track, visits, planned_ids, last=min(end, now))
        against = plan_against(plan["id"] if plan else None, stops, visits, day_over=now >= end)
        times = [t for t, _, _ in track] + [v["arrived_at"] for v in visits]
        times += [v["departed_at"] for v in visits if v["departed_at"]]
        await audit_read(
            self.session,
            self.p,
            agent.id,
            {"day": day.isoformat(), "points": len(track), "visits": len(visits)},
        )
        return DayActivity(
            agent_id=agent.id,
            day=day,
            timezone=str(tz),
            window_start=start,
            window_end=end,
            first_activity_at=min(times) if times else None,
            last_activity_at=max(times) if times else None,
            time_on_site_s=sum(i.duration_s for i in timeline if i.kind == "visit"),
            travelling_s=sum(i.duration_s for i in timeline if i.kind == "travel"),
            idle_s=sum(i.duration_s for i in timeline if i.kind == "idle"),
            distance_m=round(path_m(track)),
            visits=len(visits),
            timeline=timeline,
            plan_against_actual=against,
            route=json.loads(plan["route"]) if plan and plan["route"] else None,
            route_travel=plan["travel"] if plan else None,
            track={
                "type": "LineString",
                "coordinates": [[lon, lat] for _, lat, lon in track],
                "properties": {"times": [t.isoformat() for t, _, _ in track]},
            },
            events=[
                {
                    "id": str(e["id"]),
                    "kind": e["kind"],
                    "occurred_at": e["occurred_at"].isoformat(),
                    "fence_id": _s(e["fence_id"]),
                    "place_id": _s(e["place_id"]),
                    "customer_id": _s(e["customer_id"]),
                    "visit_id": _s(e["visit_id"]),
                }
                for e in events
            ],
        )

    async def _zone(self, unit_id: uuid.UUID | None = None) -> ZoneInfo:
        """Where the figures' days run from local midnight to local midnight: the org unit's
        own time zone (or its nearest ancestor's), else the tenant's."""
        return await local_zone(self.session, self.p.tenant_id, unit_id)

    # --- a team over a range -----------------------------------------------------------
    async def team(self, unit_id: uuid.UUID, since: date, until: date) -> TeamFigures:
        days = check_range(since, until)
        unit = await self._unit(unit_id)
        db = await raw_connection(self.session)
        tz = await self._zone(unit.id)
        lo, hi = _utc_range(since, until, tz)
        rows = await db.fetch(AGENT_FIGURES, self.p.tenant_id, unit.id, lo, hi, since, until)
        agents = [
            AgentFigures(
                agent_id=r["id"],
                name=r["name"],
                visits=r["visits"],
                visits_per_day=round(r["visits"] / days, 2),
                customers_contacted=r["contacted"],
                contact_frequency_30d=round(r["book_visits"] / r["book"] * 30 / days, 3)
                if r["book"]
                else 0.0,
                conversions=r["conversions"],
                planned_stops=r["planned"],
                plan_adherence=round(r["kept"] / r["planned"], 3) if r["planned"] else None,
            )
            for r in rows
        ]
        segments = await db.fetch(SEGMENTS, self.p.tenant_id, unit.id, lo, hi)
        untouched = await db.fetchval(UNTOUCHED, self.p.tenant_id, unit.id, hi - timedelta(days=90))
        visits = sum(a.visits for a in agents)
        planned = sum(r["planned"] for r in rows)
        kept = sum(r["kept"] for r in rows)
        return TeamFigures(
            org_unit_id=unit.id,
            since=since,
            until=until,
            timezone=str(tz),
            days=days,
            agents=agents,
            visits=visits,
            visits_per_agent_day=round(visits / (len(agents) * days), 2) if agents else 0.0,
            untouched_customers=untouched,
            conversion_by_segment=[
                SegmentConversion(
                    segment=s["segment"],
                    talks=s["talks"],
                    conversions=s["conversions"],
                    rate=round(s["conversions"] / s["talks"], 3) if s["talks"] else None,
                )
                for s in segments
            ],
            plan_adherence=round(kept / planned, 3) if planned else None,
        )

    async def heatmap(
        self, unit_id: uuid.UUID, since: date, until: date, cell_deg: float
    ) -> dict[str, Any]:
        check_range(since, until)
        unit = await self._unit(unit_id)
        db = await raw_connection(self.session)
        lo, hi = _utc_range(since, until, await self._zone(unit.id))
        rows = await db.fetch(HEATMAP, self.p.tenant_id, unit.id, lo, hi, cell_deg)
        return {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "geometry": {
                        "type": "Polygon",
                        "coordinates": [
                            [
                                [r["lon"] - cell_deg / 2, r["lat"] - cell_deg / 2],
                                [r["lon"] + cell_deg / 2, r["lat"] - cell_deg / 2],
                                [r["lon"] + cell_deg / 2, r["lat"] + cell_deg / 2],
                                [r["lon"] - cell_deg / 2, r["lat"] + cell_deg / 2],
                                [r["lon"] - cell_deg / 2, r["lat"] - cell_deg / 2],
                            ]
                        ],
                    },
                    "properties": {"visits": r["visits"], "agents": r["agents"]},
                }
                for r in rows
            ],
        }

    # --- a store over a range ----------------------------------------------------------
    async def store(
        self, place_id: uuid.UUID, since: date, until: date, tz_name: str | None
    ) -> StoreFigures:
        """`tz_name`: the zone to count days and hours in; none: the tenant's."""
        check_range(since, until)
        try:
            tz = ZoneInfo(tz_name) if tz_name else None
        except (KeyError, ValueError) as exc:
            raise Invalid(f"unknown time zone {tz_name!r}", field="tz") from exc
        stmt = select(Place).where(Place.tenant_id == self.p.tenant_id, Place.id == place_id)
        if self.p.is_store_app:
            stmt = stmt.where(Place.id.in_(list(self.p.store_ids)))
        elif self.p.is_agent:
            raise Forbidden("store figures are for managers, admins and the store's app")
        elif not self.p.is_admin:
            stmt = stmt.where(Place.org_unit_id.in_(subtree_unit_ids(self.p)))
        place = await self.session.scalar(stmt)
        if place is None:
            raise NotFound(f"place {place_id} not found", field="place_id")
        db = await raw_connection(self.session)
        tz = tz or await self._zone(place.org_unit_id)
        lo, hi = _utc_range(since, until, tz)
        visits = await db.fetch(STORE_VISITS, self.p.tenant_id, place.id, lo, hi)
        outer = {
            r["device_id"] for r in await db.fetch(OUTER_FENCE, self.p.tenant_id, place.id, lo, hi)
        }
        return store_figures(place.id, since, until, tz, visits, outer)


def store_figures(
    place_id: uuid.UUID,
    since: date,
    until: date,
    tz: ZoneInfo,
    visits: list[Any],
    outer: set[Any],
) -> StoreFigures:
    """Foot traffic from a presence log: visits (device, arrived, departed, source) at the
    store and the devices that entered its outer fence."""
    per_hour: list[set[Any]] = [set() for _ in range(24)]
    per_device: dict[Any, int] = {}
    inner: set[Any] = set()
    dwell_s = []
    for v in visits:
        per_hour[v["arrived_at"].astimezone(tz).hour].add(v["device_id"])
        per_device[v["device_id"]] = per_device.get(v["device_id"], 0) + 1
        # Seen inside the store: by its beacons, its Wi-Fi or a check-in (one visit of a
        # stay may have several sources).
        if {v["source"], *(v.get("also_seen_by") or ())} & {"beacon", "wifi", "manual"}:
            inner.add(v["device_id"])
        if v["departed_at"] is not None:
            dwell_s.append((v["departed_at"] - v["arrived_at"]).total_seconds())
    buckets = [
        DwellBucket(label=label, visits=sum(1 for d in dwell_s if lo * 60 <= d < hi * 60))
        for lo, hi, label in DWELL_BUCKETS
    ]
    visitors = len(per_device)
    return StoreFigures(
        place_id=place_id,
        since=since,
        until=until,
        timezone=str(tz),
        visits=len(visits),
        visitors=visitors,
        visitors_per_hour=[len(s) for s in per_hour],
        dwell=buckets,
        median_dwell_s=round(statistics.median(dwell_s)) if dwell_s else None,
        revisit_ratio=round(sum(1 for n in per_device.values() if n >= 2) / visitors, 3)
        if visitors
        else None,
        outer_fence_devices=len(outer),
        capture_rate=round(len(outer & inner) / len(outer), 3) if outer else None,
    )


def _s(value: Any) -> str | None:
    return str(value) if value is not None else None


async def audit_log(
    session: AsyncSession, p: Principal, subject: uuid.UUID | None, limit: int
) -> list[AuditOut]:
    if not p.is_admin:
        raise Forbidden("the audit log is for admins")
    stmt = select(AuditEntry).where(AuditEntry.tenant_id == p.tenant_id)
    if subject is not None:
        stmt = stmt.where(AuditEntry.subject_user_id == subject)
    rows = await session.scalars(
        stmt.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    )
    return [AuditOut.model_validate(r, from_attributes=True) for r in rows]
