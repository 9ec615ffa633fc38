"""HTTP routes for org units, users, devices and store apps."""

import uuid
from typing import Any

from litestar import Request, get, post
from litestar.params import FromPath, FromQuery

from backend.auth.security import Principal
from backend.common.controllers import crud_controller
from backend.common.deps import DbSession
from backend.common.pagination import Page
from backend.common.params import Cursor, Limit
from backend.org.schemas import (
    Device,
    DeviceCreate,
    DeviceUpdate,
    OrgKind,
    OrgUnit,
    OrgUnitCreate,
    OrgUnitUpdate,
    Role,
    StoreApp,
    StoreAppCreate,
    StoreAppUpdate,
    User,
    UserCreate,
    UserUpdate,
)
from backend.org.services import DeviceService, OrgUnitService, StoreAppService, UserService
from backend.privacy.services import Erased, erase_location_history

_OrgUnitControllerBase: Any = crud_controller(
    path="/org-units",
    tag="org",
    noun="OrgUnit",
    service=OrgUnitService,
    create_schema=OrgUnitCreate,
    update_schema=OrgUnitUpdate,
    read_schema=OrgUnit,
)


class OrgUnitController(_OrgUnitControllerBase):
    @get("/", operation_id="ListOrgUnits")
    async def list_org_units(
        self,
        db_session: DbSession,
        request: Request[Principal, Any, Any],
        parent_id: FromQuery[uuid.UUID | None] = None,
        kind: FromQuery[OrgKind | None] = None,
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> Page[OrgUnit]:
        service = OrgUnitService(db_session, request.user)
        return await service.page(
            service.equal_filters(parent_id=parent_id, kind=kind), cursor, limit
        )


_UserControllerBase: Any = crud_controller(
    path="/users",
    tag="org",
    noun="User",
    service=UserService,
    create_schema=UserCreate,
    update_schema=UserUpdate,
    read_schema=User,
)


class UserController(_UserControllerBase):
    @get("/", operation_id="ListUsers")
    async def list_users(
        self,
        db_session: DbSession,
        request: Request[Principal, Any, Any],
        org_unit_id: FromQuery[uuid.UUID | None] = None,
        role: FromQuery[Role | None] = None,
        active: FromQuery[bool | None] = None,
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> Page[User]:
        service = UserService(db_session, request.user)
        filters = service.equal_filters(org_unit_id=org_unit_id, role=role, active=active)
        return await service.page(filters, cursor, limit)

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


_DeviceControllerBase: Any = crud_controller(
    path="/devices",
    tag="org",
    noun="Device",
    service=DeviceService,
    create_schema=DeviceCreate,
    update_schema=DeviceUpdate,
    read_schema=Device,
)


class DeviceController(_DeviceControllerBase):
    @get("/", operation_id="ListDevices")
    async def list_devices(
        self,
        db_session: DbSession,
        request: Request[Principal, Any, Any],
        user_id: FromQuery[uuid.UUID | None] = None,
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> Page[Device]:
        service = DeviceService(db_session, request.user)
        return await service.page(service.equal_filters(user_id=user_id), cursor, limit)


_StoreAppControllerBase: Any = crud_controller(
    path="/store-apps",
    tag="org",
    noun="StoreApp",
    service=StoreAppService,
    create_schema=StoreAppCreate,
    update_schema=StoreAppUpdate,
    read_schema=StoreApp,
)


class StoreAppController(_StoreAppControllerBase):
    @get("/", operation_id="ListStoreApps")
    async def list_store_apps(
        self,
        db_session: DbSession,
        request: Request[Principal, Any, Any],
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> Page[StoreApp]:
        return await StoreAppService(db_session, request.user).page([], cursor, limit)

    @post("/{item_id:uuid}/rotate-key", operation_id="RotateStoreAppKey", status_code=200)
    async def rotate_key(
        self,
        db_session: DbSession,
        request: Request[Principal, Any, Any],
        item_id: FromPath[uuid.UUID],
    ) -> StoreApp:
        return await StoreAppService(db_session, request.user).rotate_key(item_id)
