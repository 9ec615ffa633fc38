"""`GET /calendar/{token}.ics`: an agent's appointments and planned visits as an iCalendar
feed, for the phone's calendar app to subscribe to. The token (made and revoked under
`/appointments/feeds`) is the only credential: calendar apps send no headers. Read on the
system engine with the tenant named in every condition (the request carries no tenant)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Controller, Request, get
from litestar.params import FromPath
from litestar.response import Response
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from backend.appointments.calendars import feed_owner
from backend.appointments.ical import Entry, calendar
from backend.appointments.queries import standing
from backend.customers.queries import customers
from backend.db.driver import raw_connection
from backend.errors import NotFound
from backend.plans.queries import profile_of

PAST_DAYS, AHEAD_DAYS = 30, 90

_APPOINTMENTS = f"""
SELECT a.id, a.customer_id, a.starts_at, a.duration_min, a.title, a.status, c.name,
       c.external_id
FROM {standing()} a JOIN {customers()} c ON c.tenant_id = a.tenant_id AND c.id = a.customer_id
WHERE a.tenant_id = $1 AND a.agent_id = $2 AND a.starts_at >= $3 AND a.starts_at < $4
ORDER BY a.starts_at"""  # noqa: S608 - the appointments and customers domains' relations
_PLANNED = f"""
SELECT p.plan_date, ps.customer_id, ps.kind, ps.start_at, ps.departure_at, c.name
FROM plans p
JOIN plan_stops ps ON ps.tenant_id = p.tenant_id AND ps.plan_id = p.id
JOIN {customers()} c ON c.tenant_id = ps.tenant_id AND c.id = ps.customer_id
WHERE p.tenant_id = $1 AND p.agent_id = $2 AND p.status = 'active' AND ps.status = 'planned'
  AND ps.start_at >= $3 AND ps.start_at < $4
ORDER BY ps.start_at"""  # noqa: S608 - the customers domain's relation
_ZONE = f"SELECT coalesce(({profile_of('$1', '$2')})->>'timezone', 'UTC')"


async def agent_calendar(session: AsyncSession, tenant: uuid.UUID, agent: uuid.UUID) -> bytes:
    db = await raw_connection(session)
    now = datetime.now(UTC)
    since, until = now - timedelta(days=PAST_DAYS), now + timedelta(days=AHEAD_DAYS)
    entries, kept = [], set()
    for r in await db.fetch(_APPOINTMENTS, tenant, agent, since, until):
        kept.add((r["customer_id"], r["starts_at"].date()))
        entries.append(
            Entry(
                uid=f"appointment-{r['id']}@fieldsense",
                start=r["starts_at"],
                end=r["starts_at"] + timedelta(minutes=r["duration_min"]),
                summary=r["title"] or f"Appointment: {r['name']}",
                customer=str(r["customer_id"]),
                status="CONFIRMED" if r["status"] == "confirmed" else "TENTATIVE",
            )
        )
    for r in await db.fetch(_PLANNED, tenant, agent, since, until):
        if (r["customer_id"], r["start_at"].date()) in kept:
            continue  # the appointment itself is in the feed
        entries.append(
            Entry(
                uid=f"visit-{agent}-{r['plan_date']}-{r['customer_id']}@fieldsense",
                start=r["start_at"],
                end=r["departure_at"],
                summary=f"Visit: {r['name']}",
                customer=str(r["customer_id"]),
                status="TENTATIVE",
            )
        )
    entries.sort(key=lambda e: e.start)
    zone = await db.fetchval(_ZONE, tenant, agent)
    return calendar("fieldsense", str(zone), entries)


class CalendarController(Controller):
    path = "/calendar"
    tags = ["appointments"]

    @get(
        "/{feed:str}",
        operation_id="GetCalendarFeed",
        exclude_from_auth=True,
        media_type="text/calendar",
        description=(
            "An agent's calendar feed (iCalendar): appointments from 30 days back to 90 ahead "
            "and the active plans' planned visits. The address comes from "
            "`POST /appointments/feeds` and works until the feed is revoked."
        ),
    )
    async def feed(self, request: Request[Any, Any, Any], feed: FromPath[str]) -> Response[bytes]:
        token = feed.removesuffix(".ics")
        engine: AsyncEngine = request.app.state["system_engine"]
        async with AsyncSession(engine) as session:
            owner = await feed_owner(session, token)
            if owner is None:
                raise NotFound("no such calendar feed (or it was revoked)", field="feed")
            body = await agent_calendar(session, *owner)
        return Response(
            body,
            media_type="text/calendar; charset=utf-8",
            headers={"Cache-Control": "private, max-age=300"},
        )
