"""HTTP routes for org units, users, devices and store apps."""

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.ratelimit import RateLimiter
from backend.common.controllers import crud_controller
from backend.common.deps import per_request
from backend.common.pagination import Page
from backend.common.params import Cursor, Limit
from backend.errors import TooManyRequests, Unauthorized
from backend.org.enrollment import (
    ACCESS_TTL_S,
    REFRESH_TTL_S,
    Credentials,
    Refused,
    enroll,
    refresh,
)
from backend.org.schemas import (
    Device,
    DeviceCreate,
    DeviceEnroll,
    DeviceEnrollmentOut,
    DeviceRefresh,
    DeviceTokens,
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

    @post(
        "/{item_id:uuid}/enrollment",
        operation_id="IssueDeviceEnrollment",
        description=(
            "A one-time code (15 minutes) the agent's app exchanges for the device's own "
            "credentials at POST /auth/device/enroll; a newer code replaces an unused one. "
            "Managers of the agent and admins."
        ),
    )
    async def issue_enrollment(
        self,
        device_service: NamedDependency[DeviceService],
        item_id: FromPath[uuid.UUID],
    ) -> DeviceEnrollmentOut:
        return await device_service.enrollment(item_id)


class DeviceCredentialController(Controller):
    """A phone's own credentials (backend/org/enrollment.py): it needs no password."""

    path = "/auth/device"
    tags = ["auth"]

    @post(
        "/enroll",
        operation_id="EnrollDevice",
        status_code=200,
        security=[],
        description="Spend a one-time enrollment code: the device's access and refresh tokens.",
    )
    async def enroll(
        self, state: State, request: Request[Any, Any, Any], data: JSONBody[DeviceEnroll]
    ) -> DeviceTokens:
        return await _exchange(
            state, request, lambda session, secret: enroll(session, secret, data.tenant, data.code)
        )

    @post(
        "/token",
        operation_id="RefreshDeviceToken",
        status_code=200,
        security=[],
        description=(
            "Trade a refresh token for a new pair (OAuth 2.0 refresh grant). Each refresh "
            "token is good once: one used again revokes its whole family."
        ),
    )
    async def token(
        self, state: State, request: Request[Any, Any, Any], data: JSONBody[DeviceRefresh]
    ) -> DeviceTokens:
        return await _exchange(
            state, request, lambda session, secret: refresh(session, secret, data.refresh_token)
        )


async def _exchange(
    state: State,
    request: Request[Any, Any, Any],
    spend: Callable[[AsyncSession, str], Awaitable[Credentials]],
) -> DeviceTokens:
    """Codes and refresh tokens are read across tenants (they name their own), on the system
    engine. Refusals are throttled per client address, as failed logins are; what a refusal
    wrote (a reused token's family revoked) is committed."""
    settings = state["settings"]
    limiter: RateLimiter = state["limiter"]
    address = ("device_credentials_from", request.client.host if request.client else "")
    wait = limiter.retry_after(address, settings.login_failures_address)
    if wait:
        raise TooManyRequests("too many refused device credentials; try again later", wait)
    async with AsyncSession(state["system_engine"]) as session:
        try:
            creds = await spend(session, settings.secret)
        except Refused as exc:
            await session.commit()
            limiter.hit(address, settings.login_failures_address)
            raise Unauthorized(exc.reason, field=exc.field) from exc
        await session.commit()
    return DeviceTokens(
        access_token=creds.access_token,
        expires_in=ACCESS_TTL_S,
        refresh_token=creds.refresh_token,
        refresh_expires_in=REFRESH_TTL_S,
        device_id=creds.device_id,
        user_id=creds.user_id,
        tenant_id=creds.tenant_id,
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
