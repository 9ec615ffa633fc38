"""HTTP routes for places, beacons and Wi-Fi access points."""

import uuid
from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery

from backend.auth.security import Principal
from backend.common.controllers import crud_controller
from backend.common.deps import per_request
from backend.common.imports import ImportResult
from backend.common.pagination import Page
from backend.common.params import Cursor, Limit, NearLat, NearLon, Search, WithinM, near_filter
from backend.places.schemas import (
    Beacon,
    BeaconCreate,
    BeaconProtocol,
    BeaconUpdate,
    Place,
    PlaceCreate,
    PlaceKind,
    PlaceUpdate,
    WifiAccessPoint,
    WifiAccessPointCreate,
    WifiAccessPointUpdate,
)
from backend.places.services import BeaconService, PlaceService, WifiAccessPointService

_PlaceControllerBase: Any = crud_controller(
    path="/places",
    tag="places",
    noun="Place",
    service=PlaceService,
    create_schema=PlaceCreate,
    update_schema=PlaceUpdate,
    read_schema=Place,
)


class PlaceController(_PlaceControllerBase):
    dependencies = {"place_service": per_request(PlaceService)}

    @get("/", operation_id="ListPlaces")
    async def list_places(
        self,
        place_service: NamedDependency[PlaceService],
        kind: FromQuery[PlaceKind | None] = None,
        org_unit_id: FromQuery[uuid.UUID | None] = None,
        tag: FromQuery[str | None] = None,
        external_id: FromQuery[str | None] = None,
        q: Search = None,
        near_lat: NearLat = None,
        near_lon: NearLon = None,
        within_m: WithinM = None,
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> Page[Place]:
        filters = place_service.filters(
            kind=kind,
            org_unit_id=org_unit_id,
            tag=tag,
            external_id=external_id,
            q=q,
            near=near_filter(near_lat, near_lon, within_m),
        )
        return await place_service.page(filters, cursor, limit)

    @post(
        "/import",
        operation_id="ImportPlaces",
        description=(
            "RFC 7946 FeatureCollection: a Point feature is a place at that point; a Polygon or "
            "MultiPolygon feature is a place with that footprint. Properties as in PlaceCreate. "
            "Any bad feature rejects the whole file (422 listing each); nothing is written."
        ),
    )
    async def import_places(
        self, place_service: NamedDependency[PlaceService], request: Request[Principal, Any, Any]
    ) -> ImportResult:
        return await place_service.import_geojson(await request.body())


_BeaconControllerBase: Any = crud_controller(
    path="/beacons",
    tag="places",
    noun="Beacon",
    service=BeaconService,
    create_schema=BeaconCreate,
    update_schema=BeaconUpdate,
    read_schema=Beacon,
)


class BeaconController(_BeaconControllerBase):
    dependencies = {"beacon_service": per_request(BeaconService)}

    @get("/", operation_id="ListBeacons")
    async def list_beacons(
        self,
        beacon_service: NamedDependency[BeaconService],
        place_id: FromQuery[uuid.UUID | None] = None,
        protocol: FromQuery[BeaconProtocol | None] = None,
        ibeacon_uuid: FromQuery[uuid.UUID | None] = None,
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> Page[Beacon]:
        filters = beacon_service.equal_filters(
            place_id=place_id, protocol=protocol, ibeacon_uuid=ibeacon_uuid
        )
        return await beacon_service.page(filters, cursor, limit)


_WifiAccessPointControllerBase: Any = crud_controller(
    path="/wifi-access-points",
    tag="places",
    noun="WifiAccessPoint",
    service=WifiAccessPointService,
    create_schema=WifiAccessPointCreate,
    update_schema=WifiAccessPointUpdate,
    read_schema=WifiAccessPoint,
)


class WifiAccessPointController(_WifiAccessPointControllerBase):
    dependencies = {"wifi_access_point_service": per_request(WifiAccessPointService)}

    @get("/", operation_id="ListWifiAccessPoints")
    async def list_wifi_access_points(
        self,
        wifi_access_point_service: NamedDependency[WifiAccessPointService],
        place_id: FromQuery[uuid.UUID | None] = None,
        bssid: FromQuery[str | None] = None,
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> Page[WifiAccessPoint]:
        norm = bssid.strip().lower().replace("-", ":") if bssid else None
        filters = wifi_access_point_service.equal_filters(place_id=place_id, bssid=norm)
        return await wifi_access_point_service.page(filters, cursor, limit)
