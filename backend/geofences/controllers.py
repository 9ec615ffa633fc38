"""HTTP routes for geofences and territories."""

import uuid
from typing import Any, Literal

from litestar import Request, Response, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody

from backend.auth.security import Principal
from backend.common.controllers import crud_controller
from backend.common.deps import DbSession, per_request
from backend.common.imports import ImportResult
from backend.common.pagination import Page
from backend.common.params import Cursor, Limit, NearLat, NearLon
from backend.errors import Invalid
from backend.geofences.schemas import (
    Geofence,
    GeofenceBody,
    GeofenceCreate,
    GeofenceUpdate,
    Territory,
    TerritoryCreate,
    TerritoryUpdate,
)
from backend.geofences.services import (
    FenceChanged,
    GeofenceService,
    TerritoryService,
    geofence_filters,
)


def _geofence_service() -> Provide:
    """The geofences of the request's caller; `fence_changed` is the app's (backend/app.py).
    A provider of its own for each key (Litestar refuses one provider under two)."""

    async def made(
        db_session: DbSession,
        request: Request[Principal, Any, Any],
        fence_changed: NamedDependency[FenceChanged],
    ) -> GeofenceService:
        return GeofenceService(db_session, request.user, fence_changed)

    return Provide(made)


_GeofenceControllerBase: Any = crud_controller(
    path="/geofences",
    tag="geofences",
    noun="Geofence",
    service=GeofenceService,
    provide=_geofence_service(),
    create_schema=GeofenceCreate,
    update_schema=GeofenceUpdate,
    read_schema=Geofence,
)


class GeofenceController(_GeofenceControllerBase):
    dependencies = {"geofence_service": _geofence_service()}

    @get("/", operation_id="ListGeofences")
    async def list_geofences(
        self,
        geofence_service: NamedDependency[GeofenceService],
        tag: FromQuery[str | None] = None,
        external_id: FromQuery[str | None] = None,
        place_id: FromQuery[uuid.UUID | None] = None,
        customer_id: FromQuery[uuid.UUID | None] = None,
        territory_id: FromQuery[uuid.UUID | None] = None,
        shape: FromQuery[Literal["circle", "polygon"] | None] = None,
        contains_lat: NearLat = None,
        contains_lon: NearLon = None,
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> Page[Geofence]:
        if (contains_lat is None) != (contains_lon is None):
            raise Invalid("contains_lat and contains_lon go together", field="contains_lat")
        contains = (contains_lat, contains_lon) if contains_lat is not None else None
        filters = geofence_filters(
            geofence_service,
            tag=tag,
            external_id=external_id,
            place_id=place_id,
            customer_id=customer_id,
            territory_id=territory_id,
            shape=shape,
            contains=contains,  # type: ignore[arg-type]
        )
        return await geofence_service.page(filters, cursor, limit)

    @put("/by-key/{tag:str}/{external_id:str}", operation_id="UpsertGeofence")
    async def upsert_geofence(
        self,
        geofence_service: NamedDependency[GeofenceService],
        tag: FromPath[str],
        external_id: FromPath[str],
        data: JSONBody[GeofenceBody],
    ) -> Response[Geofence]:
        fence, created = await geofence_service.upsert(tag, external_id, data)
        return Response(fence, status_code=201 if created else 200)

    @post(
        "/import",
        operation_id="ImportGeofences",
        description=(
            "RFC 7946 FeatureCollection. A Polygon / MultiPolygon feature is a polygon fence; a "
            "Point feature with a `radius_m` property is a circle. Features with an external_id "
            "replace the fence with the same (tag, external_id). Any bad feature rejects the "
            "whole file (422 listing each); nothing is written."
        ),
    )
    async def import_geofences(
        self,
        geofence_service: NamedDependency[GeofenceService],
        request: Request[Principal, Any, Any],
    ) -> ImportResult:
        return await geofence_service.import_geojson(await request.body())


_TerritoryControllerBase: Any = crud_controller(
    path="/territories",
    tag="territories",
    noun="Territory",
    service=TerritoryService,
    create_schema=TerritoryCreate,
    update_schema=TerritoryUpdate,
    read_schema=Territory,
)


class TerritoryController(_TerritoryControllerBase):
    dependencies = {"territory_service": per_request(TerritoryService)}

    @get("/", operation_id="ListTerritories")
    async def list_territories(
        self,
        territory_service: NamedDependency[TerritoryService],
        org_unit_id: FromQuery[uuid.UUID | None] = None,
        agent_id: FromQuery[uuid.UUID | None] = None,
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> Page[Territory]:
        filters = territory_service.equal_filters(org_unit_id=org_unit_id, agent_id=agent_id)
        return await territory_service.page(filters, cursor, limit)
