"""HTTP routes: ingest (locations, beacon and Wi-Fi scans), events, device timelines, visits."""

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from pydantic import BaseModel, ValidationError

from backend.auth.security import Principal
from backend.common.bodies import PayloadTooLarge, decode_json
from backend.common.controllers import crud_controller
from backend.common.deps import DbEngine, DbSession, per_read, per_request
from backend.common.openapi import documented_body
from backend.common.pagination import Page
from backend.common.params import Cursor, Limit
from backend.common.strict import Instant
from backend.errors import Invalid, TooManyRequests
from backend.tracking.device_config import DeviceConfig, device_config
from backend.tracking.erasure import Erased, erase_location_history
from backend.tracking.ingest import LocationIngest, ingest_connection, require_own_device
from backend.tracking.jobs import close_stays
from backend.tracking.scans import ScanIngest
from backend.tracking.schemas import (
    MAX_POINTS,
    BeaconBatch,
    CheckIn,
    CheckOut,
    DayEndIn,
    DayEndOut,
    EventOut,
    IngestResult,
    LocationBatch,
    ScanResult,
    VisitOut,
    VisitUpdate,
    WifiBatch,
)
from backend.tracking.services import EventService, VisitService
from backend.tracking.timeline import Timeline, device_timeline
from geofence.device import EngineConfig

ENGINE = EngineConfig()
Since = Annotated[Instant | None, QueryParameter(description="from this time (inclusive)")]
Until = Annotated[Instant | None, QueryParameter(description="to this time (exclusive)")]


async def read_json(request: Request[Any, Any, Any]) -> Any:
    """The body as JSON within the API's one decoding limit (backend/common/bodies.py)."""
    return decode_json(await request.body())


def _check_count(items: Any, field: str) -> list[Any]:
    if not isinstance(items, list) or not items:
        raise Invalid(f"{field} must be a non-empty list", field=field)
    if len(items) > MAX_POINTS:
        raise PayloadTooLarge(f"at most {MAX_POINTS} {field} per request", field=field)
    return items


def _throttle(request: Request[Principal, Any, Any], device_id: uuid.UUID) -> None:
    """Uploads per device (a phone in a retry loop must not crowd out the others)."""
    state = request.app.state
    wait = state["limiter"].hit(("device", device_id), state["settings"].rate_device)
    if wait:
        raise TooManyRequests("too many uploads from this device", wait, field="device_id")


def _validated(model: type[BaseModel], doc: Any) -> Any:
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(x) for x in err["loc"]) or "body"
        raise Invalid(err["msg"], field=field) from exc


class IngestController(Controller):
    path = "/ingest"
    tags = ["ingest"]

    @post(
        "/locations",
        operation_id="IngestLocations",
        status_code=200,
        operation_class=documented_body(LocationBatch),
        description=(
            "1 to 1,000 points from one of the caller's devices. Each point is checked on its own: "
            "a bad one is rejected (field and reason in `results`), the rest are kept. Re-sending "
            "a point (same client_id) changes nothing. 413 past 1,000 points or 1 MiB. "
            "Body: {device_id, points: [{client_id, time | age_s, lat, lon, accuracy_m, "
            "speed_mps?, heading_deg?, altitude_m?, battery?, provider?, mock?}]} (docs/ingest.md)."
        ),
    )
    async def ingest_locations(
        self, db_engine: DbEngine, request: Request[Principal, Any, Any]
    ) -> IngestResult:
        received = datetime.now(UTC)
        doc = await read_json(request)
        if not isinstance(doc, dict):
            raise Invalid("expected an object with device_id and points", field="body")
        points = _check_count(doc.get("points"), "points")
        try:
            device_id = uuid.UUID(str(doc.get("device_id")))
        except ValueError as exc:
            raise Invalid("device_id must be a UUID", field="device_id") from exc
        _throttle(request, device_id)
        async with ingest_connection(db_engine) as db:
            return await LocationIngest(db, request.user, ENGINE).run(device_id, points, received)

    @post(
        "/beacons",
        operation_id="IngestBeaconScans",
        status_code=200,
        operation_class=documented_body(BeaconBatch),
    )
    async def ingest_beacons(
        self, db_engine: DbEngine, request: Request[Principal, Any, Any]
    ) -> ScanResult:
        received = datetime.now(UTC)
        doc = await read_json(request)
        _check_count(doc.get("scans") if isinstance(doc, dict) else None, "scans")
        batch: BeaconBatch = _validated(BeaconBatch, doc)
        _throttle(request, batch.device_id)
        async with ingest_connection(db_engine) as db:
            return await ScanIngest(db, request.user).beacons(batch, received)

    @post(
        "/wifi",
        operation_id="IngestWifiScans",
        status_code=200,
        operation_class=documented_body(WifiBatch),
    )
    async def ingest_wifi(
        self, db_engine: DbEngine, request: Request[Principal, Any, Any]
    ) -> ScanResult:
        received = datetime.now(UTC)
        doc = await read_json(request)
        _check_count(doc.get("scans") if isinstance(doc, dict) else None, "scans")
        batch: WifiBatch = _validated(WifiBatch, doc)
        _throttle(request, batch.device_id)
        async with ingest_connection(db_engine) as db:
            return await ScanIngest(db, request.user).wifi(batch, received)

    @post(
        "/day-end",
        operation_id="EndDay",
        status_code=200,
        description=(
            "The agent's working day is over: the device's open visits and presences end at its "
            "last point now, not after 30 minutes of silence. Points that continue a stay "
            "within the silence timeout reopen it. Stays still open 15 minutes after the "
            "agent's shift ends are closed the same way by the `close_finished_days` job."
        ),
    )
    async def end_day(
        self, db_engine: DbEngine, request: Request[Principal, Any, Any], data: JSONBody[DayEndIn]
    ) -> DayEndOut:
        _throttle(request, data.device_id)
        async with ingest_connection(db_engine) as db:
            _, row = await require_own_device(db, request.user, data.device_id)
            last = row["last_fix_time"]
            events = await close_stays(
                db, request.user.tenant_id, row["user_id"], data.device_id, row["state"]
            )
        return DayEndOut(events=events, closed_at=last if events else None)


class EventController(Controller):
    path = "/events"
    tags = ["events"]
    # Reads only: a hot standby within its lag bound may serve them (backend/db/replicas.py).
    dependencies = {"event_service": per_read(EventService)}

    @get("/", operation_id="ListEvents")
    async def list_events(
        self,
        event_service: NamedDependency[EventService],
        device_id: FromQuery[uuid.UUID | None] = None,
        user_id: FromQuery[uuid.UUID | None] = None,
        kind: FromQuery[str | None] = None,
        place_id: FromQuery[uuid.UUID | None] = None,
        fence_id: FromQuery[uuid.UUID | None] = None,
        since: Since = None,
        until: Until = None,
        include_retracted: FromQuery[bool] = False,
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> Page[EventOut]:
        filters = event_service.filters(
            device_id=device_id,
            user_id=user_id,
            kind=kind,
            place_id=place_id,
            fence_id=fence_id,
            since=since,
            until=until,
            include_retracted=include_retracted,
        )
        return await event_service.page(filters, cursor, limit)

    @get("/{item_id:uuid}", operation_id="GetEvent")
    async def get_event(
        self,
        event_service: NamedDependency[EventService],
        item_id: FromPath[uuid.UUID],
    ) -> EventOut:
        return await event_service.get(item_id)


class DeviceTimelineController(Controller):
    path = "/devices"
    tags = ["events"]

    @get("/{device_id:uuid}/timeline", operation_id="GetDeviceTimeline")
    async def timeline(
        self,
        db_session: DbSession,
        request: Request[Principal, Any, Any],
        device_id: FromPath[uuid.UUID],
        since: Since = None,
        until: Until = None,
    ) -> Timeline:
        # On the primary: reading a track writes the audit log.
        return await device_timeline(db_session, request.user, device_id, since, until)

    @get(
        "/me/config",
        operation_id="GetDeviceConfig",
        description=(
            "What the phone should do (backend/tracking/device_config.py): sampling by state, "
            "upload interval, the agent's shift, the fences to watch. With the device's own "
            "credential it answers for that device; a person's token names one in `device_id`. "
            "`If-None-Match` with the last ETag: 304 while nothing changed."
        ),
        response_headers=[ResponseHeader(name="ETag", documentation_only=True)],
    )
    async def config(
        self,
        db_engine: DbEngine,
        request: Request[Principal, Any, Any],
        device_id: FromQuery[uuid.UUID | None] = None,
    ) -> Response[DeviceConfig]:
        async with ingest_connection(db_engine) as db:
            config, etag = await device_config(db, request.user, device_id)
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        if etag in {t.strip() for t in request.headers.get("if-none-match", "").split(",")}:
            return Response(content=None, status_code=304, headers=headers)  # type: ignore[arg-type]
        return Response(config, headers=headers)


_VisitBase: Any = crud_controller(
    path="/visits",
    tag="visits",
    noun="Visit",
    service=VisitService,
    create_schema=CheckIn,
    update_schema=VisitUpdate,
    read_schema=VisitOut,
)


class VisitController(_VisitBase):
    dependencies = {
        "visit_service": per_request(VisitService),
        "visit_reads": per_read(VisitService),  # the list: on a standby within its bound
    }

    @get("/", operation_id="ListVisits")
    async def list_visits(
        self,
        visit_reads: NamedDependency[VisitService],
        agent_id: FromQuery[uuid.UUID | None] = None,
        customer_id: FromQuery[uuid.UUID | None] = None,
        place_id: FromQuery[uuid.UUID | None] = None,
        source: FromQuery[str | None] = None,
        since: Since = None,
        until: Until = None,
        include_retracted: FromQuery[bool] = False,
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> Page[VisitOut]:
        filters = visit_reads.filters(
            agent_id=agent_id,
            customer_id=customer_id,
            place_id=place_id,
            source=source,
            since=since,
            until=until,
            include_retracted=include_retracted,
        )
        return await visit_reads.page(filters, cursor, limit)

    @post("/{item_id:uuid}/check-out", operation_id="CheckOutVisit", status_code=200)
    async def check_out(
        self,
        visit_service: NamedDependency[VisitService],
        item_id: FromPath[uuid.UUID],
        data: JSONBody[CheckOut],
    ) -> VisitOut:
        return await visit_service.check_out(item_id, data)


class ErasureController(Controller):
    """A user's location history is the tracking domain's to erase (backend/tracking/erasure.py)."""

    path = "/users"
    tags = ["org"]

    @post(
        "/{item_id:uuid}/erase-location-history",
        operation_id="EraseLocationHistory",
        status_code=200,
        description=(
            "Admins: delete every point, scan and presence event of the user's devices, the "
            "engine state kept for them and webhook deliveries carrying those events; visits stay "
            "without their positions. Recorded in the audit log. Cannot be undone."
        ),
    )
    async def erase_location_history(
        self,
        db_session: DbSession,
        request: Request[Principal, Any, Any],
        item_id: FromPath[uuid.UUID],
    ) -> Erased:
        return await erase_location_history(db_session, request.user, item_id)
