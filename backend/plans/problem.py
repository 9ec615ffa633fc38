"""From profiles, appointments and customers to the routing engine's inputs."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text

from backend.campaigns.queries import boost_sql
from backend.customers.queries import customers
from backend.customers.scoring import array_weights, score_sql
from backend.geofences.queries import territories
from backend.plans.schemas import AgentProfileIn, AppointmentIn, CoachingIn, VisitIn
from routing import plan as planner
from routing.travel import GeoPoint

# Candidates are scored as suggestions are (backend/customers/scoring.py); the score's
# expression is the only thing formatted into the query (values, the weights too, are
# bound). Customers a coaching note boosts come first, so the limit never leaves them out.
CANDIDATES = text(
    f"""
SELECT c.id, c.name, ST_Y(c.location::geometry) AS lat, ST_X(c.location::geometry) AS lon,
       c.life_stage, c.preferred_hours, c.assigned_agent_id,
       {score_sql(":now", array_weights("CAST(:weights AS float8[])"), boost_sql(":now"))} AS score,
       (SELECT t.agent_id FROM {territories()} t
         WHERE t.tenant_id = c.tenant_id AND t.agent_id IS NOT NULL
           AND ST_Covers(t.geom, c.location::geometry)
         ORDER BY t.agent_id LIMIT 1) AS territory_agent
FROM {customers()} c
WHERE c.tenant_id = :tenant AND NOT c.do_not_visit
  AND (c.status <> 'customer' OR c.last_contact_at IS NULL
       OR c.last_contact_at < :now - interval '30 days')
  AND (c.assigned_agent_id = ANY(:agents)
       OR (:unassigned AND c.assigned_agent_id IS NULL AND c.org_unit_id = ANY(:units)))
  AND c.location && fieldsense_box(
        ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography, :radius)
  AND ST_DWithin(c.location, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography, :radius)
  AND NOT (c.id = ANY(:exclude))
ORDER BY c.id = ANY(:boosted) DESC, score DESC, c.id
LIMIT :limit
"""  # noqa: S608 - the owners' SQL (scoring, campaigns, customers, territories), constants
)


def local_time(day: date, t: Any, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, t, tzinfo=tz)


def preferred_windows(
    hours: list[dict[str, Any]] | None, day: date, tz: tzinfo
) -> tuple[tuple[datetime, datetime], ...]:
    """A customer's preferred hours on that weekday, as start-of-service windows."""
    out = []
    for entry in hours or []:
        try:
            if day.weekday() not in entry.get("days", range(7)):
                continue
            a = datetime.combine(day, datetime.strptime(entry["start"], "%H:%M").time(), tz)
            b = datetime.combine(day, datetime.strptime(entry["end"], "%H:%M").time(), tz)
        except (KeyError, TypeError, ValueError):
            continue
        if a <= b:
            out.append((a, b))
    return tuple(out)


def agent_of(profile: AgentProfileIn, agent_id: uuid.UUID, day: date) -> planner.Agent:
    tz = ZoneInfo(profile.timezone)
    lunch = None
    if profile.lunch is not None:
        lunch = planner.Lunch(
            local_time(day, profile.lunch.earliest, tz),
            local_time(day, profile.lunch.latest, tz),
            profile.lunch.minutes * 60,
        )
    return planner.Agent(
        id=str(agent_id),
        start=GeoPoint(profile.start.lat, profile.start.lon),
        end=GeoPoint(profile.end.lat, profile.end.lon) if profile.end else None,
        shift_start=local_time(day, profile.shift_start, tz),
        shift_end=local_time(day, profile.shift_end, tz),
        mode=profile.mode,
        lunch=lunch,
        max_stops=profile.max_stops,
    )


def coaching_of(c: CoachingIn | None) -> planner.Coaching:
    if c is None:
        return planner.Coaching()
    return planner.Coaching(
        boost={str(k): v for k, v in c.boost.items()},
        focus_segment=c.focus_segment,
        focus_factor=c.focus_factor,
        target_visits=c.target_visits,
        avoid=tuple(planner.Area(GeoPoint(a.lat, a.lon), a.radius_m) for a in c.avoid),
    )


def stops_of(
    day: date,
    tz: ZoneInfo,
    appointments: Sequence[AppointmentIn],
    must: Sequence[VisitIn],
    prospects: Sequence[dict[str, Any]],
    info: dict[uuid.UUID, dict[str, Any]],
    pins: dict[uuid.UUID, uuid.UUID] | None = None,
) -> list[planner.Stop]:
    """The routing engine's stops; `pins`: the appointments that are one agent's (stored
    appointments: a team plan keeps each with its agent)."""
    stops: list[planner.Stop] = []
    for a in appointments:
        c = info[a.customer_id]
        pin = (pins or {}).get(a.customer_id)
        stops.append(
            planner.Stop(
                id=str(a.customer_id),
                location=GeoPoint(c["lat"], c["lon"]),
                service_s=a.service_min * 60,
                kind=planner.StopKind.APPOINTMENT,
                windows=((a.start, a.end or a.start),),
                segment=c["segment"],
                agents=(str(pin),) if pin else None,
            )
        )
    for m in must:
        c = info[m.customer_id]
        stops.append(
            planner.Stop(
                id=str(m.customer_id),
                location=GeoPoint(c["lat"], c["lon"]),
                service_s=m.service_min * 60,
                kind=planner.StopKind.MUST,
                windows=preferred_windows(c["hours"], day, tz),
                segment=c["segment"],
            )
        )
    for p in prospects:
        stops.append(
            planner.Stop(
                id=str(p["customer_id"]),
                location=GeoPoint(p["lat"], p["lon"]),
                service_s=int(p["service_min"]) * 60,
                kind=planner.StopKind.OPTIONAL,
                windows=preferred_windows(p.get("hours"), day, tz),
                score=float(p["score"]),
                segment=p.get("segment"),
                agents=tuple(p["agents"]) if p.get("agents") else None,
            )
        )
    return stops
