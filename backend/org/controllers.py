"""HTTP routes for org units, users, devices and store apps."""

import uuid
from typing import Any

from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery

from backend.common.controllers import crud_controller
from backend.common.deps import per_request
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
    dependencies = {"org_unit_service": per_request(OrgUnitService)}

    @get("/", operation_id="ListOrgUnits")
    async def list_org_units(
        self,
        org_unit_service: NamedDependency[OrgUnitService],
        parent_id: FromQuery[uuid.UUID | None] = None,
        kind: FromQuery[OrgKind | None] = None,
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> Page[OrgUnit]:
        return await org_unit_service.page(
            org_unit_service.equal_filters(parent_id=parent_id, kind=kind), cursor, limit
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
    dependencies = {"user_service": per_request(UserService)}

    @get("/", operation_id="ListUsers")
    async def list_users(
        self,
        user_service: NamedDependency[UserService],
        org_unit_id: FromQuery[uuid.UUID | None] = None,
        role: FromQuery[Role | None] = None,
        active: FromQuery[bool | None] = None,
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> Page[User]:
        filters = user_service.equal_filters(org_unit_id=org_unit_id, role=role, active=active)
        return await user_service.page(filters, cursor, limit)


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
    dependencies = {"device_service": per_request(DeviceService)}

    @get("/", operation_id="ListDevices")
    async def list_devices(
        self,
        device_service: NamedDependency[DeviceService],
        user_id: FromQuery[uuid.UUID | None] = None,
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> Page[Device]:
        return await device_service.page(
            device_service.equal_filters(user_id=user_id), cursor, limit
        )


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
    dependencies = {"store_app_service": per_request(StoreAppService)}

    @get("/", operation_id="ListStoreApps")
    async def list_store_apps(
        self,
        store_app_service: NamedDependency[StoreAppService],
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> Page[StoreApp]:
        return await store_app_service.page([], cursor, limit)

    @post("/{item_id:uuid}/rotate-key", operation_id="RotateStoreAppKey", status_code=200)
    async def rotate_key(
        self,
        store_app_service: NamedDependency[StoreAppService],
        item_id: FromPath[uuid.UUID],
    ) -> StoreApp:
        return await store_app_service.rotate_key(item_id)
