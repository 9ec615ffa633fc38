"""HTTP routes for appointments, their calendar import, and the agents' calendar feeds."""

from __future__ import annotations

import uuid
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Request, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery

from backend.appointments.calendars import feeds, import_calendar, open_feed, revoke_feed
from backend.appointments.schemas import (
    AppointmentCreate,
    AppointmentOut,
    AppointmentUpdate,
    FeedListed,
    FeedOut,
    ImportOut,
    Status,
)
from backend.appointments.services import AppointmentService
from backend.auth.security import Principal
from backend.common.controllers import crud_controller
from backend.common.deps import per_request
from backend.common.pagination import Page
from backend.common.params import Cursor, Limit
from backend.common.strict import Instant
from backend.errors import Invalid
from backend.tenants.settings import known_zone

_AppointmentControllerBase: Any = crud_controller(
    path="/appointments",
    tag="appointments",
    noun="Appointment",
    service=AppointmentService,
    create_schema=AppointmentCreate,
    update_schema=AppointmentUpdate,
    read_schema=AppointmentOut,
)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(known_zone(name))
    except ValueError as exc:
        raise Invalid(str(exc), field="timezone") from exc


class AppointmentController(_AppointmentControllerBase):
    dependencies = {"appointment_service": per_request(AppointmentService)}

    @get("/", operation_id="ListAppointments")
    async def list_appointments(
        self,
        appointment_service: NamedDependency[AppointmentService],
        agent_id: FromQuery[uuid.UUID | None] = None,
        customer_id: FromQuery[uuid.UUID | None] = None,
        status: FromQuery[Status | None] = None,
        since: FromQuery[Instant | None] = None,
        until: FromQuery[Instant | None] = None,
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> Page[AppointmentOut]:
        filters = appointment_service.filters(agent_id, customer_id, status, since, until)
        return await appointment_service.page(filters, cursor, limit)

    @post(
        "/import",
        operation_id="ImportAppointments",
        status_code=200,
        description=(
            "An iCalendar file (text/calendar) as the agent's appointments: each VEVENT's "
            "DTSTART, DTEND or DURATION, SUMMARY, UID (imported again, it moves the same "
            "appointment) and X-FIELDSENSE-CUSTOMER (a customer's id or external_id). A "
            "floating time is read in `timezone`. A malformed file is a 422 naming the line."
        ),
    )
    async def import_ics(
        self,
        appointment_service: NamedDependency[AppointmentService],
        request: Request[Principal, Any, Any],
        agent_id: FromQuery[uuid.UUID | None] = None,
        timezone: FromQuery[str] = "UTC",
    ) -> ImportOut:
        zone = _zone(timezone)
        return await import_calendar(appointment_service, agent_id, await request.body(), zone)

    @post(
        "/feeds",
        operation_id="CreateCalendarFeed",
        description=(
            "A calendar feed of the agent's appointments and planned visits, for the phone's "
            "calendar app: the URL carries its own token (shown once), revocable alone."
        ),
    )
    async def create_feed(
        self,
        appointment_service: NamedDependency[AppointmentService],
        request: Request[Principal, Any, Any],
        agent_id: FromQuery[uuid.UUID | None] = None,
    ) -> FeedOut:
        base = str(request.base_url).rstrip("/")
        return await open_feed(appointment_service, agent_id, base)

    @get("/feeds", operation_id="ListCalendarFeeds")
    async def list_feeds(
        self, appointment_service: NamedDependency[AppointmentService]
    ) -> list[FeedListed]:
        return await feeds(appointment_service)

    @delete("/feeds/{feed_id:uuid}", operation_id="RevokeCalendarFeed")
    async def revoke(
        self, appointment_service: NamedDependency[AppointmentService], feed_id: FromPath[uuid.UUID]
    ) -> None:
        await revoke_feed(appointment_service, feed_id)
