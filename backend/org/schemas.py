"""API schemas for org units, users, devices and store apps."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator

from backend.tenants.settings import known_zone

OrgKind = Literal["hq", "region", "branch", "team"]
Role = Literal["agent", "manager", "admin"]
Locale = Literal["en", "ko"]  # the languages of backend/i18n
Platform = Literal["android", "ios", "other"]
Email = str


ZONE = (
    "the unit's own IANA time zone (a region abroad): its figures count its days there; none: "
    "its nearest ancestor's, else the tenant's"
)


class OrgUnitCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    kind: OrgKind
    parent_id: uuid.UUID | None = Field(default=None, description="none only for the HQ")
    timezone: str | None = Field(default=None, description=ZONE)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else known_zone(value)


class OrgUnitUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    timezone: str | None = Field(default=None, description=ZONE)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else known_zone(value)


class OrgUnit(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    name: str
    kind: OrgKind
    parent_id: uuid.UUID | None
    path: list[uuid.UUID] = Field(description="ids from the root down to this unit")
    timezone: str | None = Field(default=None, description=ZONE)
    created_at: datetime
    updated_at: datetime


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: Email = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    name: str = Field(min_length=1, max_length=200)
    role: Role = "agent"
    org_unit_id: uuid.UUID
    password: str = Field(min_length=8, max_length=256)
    locale: Locale | None = Field(default=None, description="en or ko; none: the browser's")


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    role: Role | None = None
    org_unit_id: uuid.UUID | None = None
    password: str | None = Field(default=None, min_length=8, max_length=256)
    active: bool | None = None
    locale: Locale | None = None


class User(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    email: str
    name: str
    role: Role
    org_unit_id: uuid.UUID
    active: bool
    locale: Locale | None = None
    created_at: datetime
    updated_at: datetime


class DeviceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    platform: Platform = "android"
    identifier: str = Field(min_length=1, max_length=128, description="the app's install id")
    user_id: uuid.UUID | None = Field(default=None, description="defaults to the caller")


class DeviceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    revoked: bool | None = Field(
        default=None,
        description="true revokes the device (its agent may, for a lost phone); false "
        "re-enables it (managers and admins only)",
    )
    approved: Literal[True] | None = Field(
        default=None,
        description="approves a device its agent registered (managers and admins only)",
    )


DeviceStatus = Literal["requested", "active", "revoked"]


class Device(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    user_id: uuid.UUID
    name: str
    platform: Platform
    identifier: str
    revoked_at: datetime | None
    approved_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @computed_field(  # type: ignore[prop-decorator]
        description="requested: registered by its agent, waiting for a manager's approval; "
        "active: may send; revoked: sends nothing"
    )
    @property
    def status(self) -> DeviceStatus:
        if self.revoked_at is not None:
            return "revoked"
        return "active" if self.approved_at is not None else "requested"


class DeviceEnrollmentOut(BaseModel):
    """A one-time enrollment code for a device, shown once (backend/org/enrollment.py)."""

    device_id: uuid.UUID
    code: str = Field(description="12 characters in groups of four; case and dashes optional")
    expires_at: datetime
    qr: str = Field(description="what the app scans: fieldsense://enroll?tenant=...&code=...")


class DeviceEnroll(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tenant: str = Field(min_length=1, max_length=63, description="the tenant's slug")
    code: str = Field(min_length=1, max_length=64)


class DeviceRefresh(BaseModel):
    model_config = ConfigDict(extra="forbid")
    grant_type: Literal["refresh_token"] = Field(description="OAuth 2.0's refresh grant")
    refresh_token: str = Field(min_length=1, max_length=256)


class DeviceTokens(BaseModel):
    """A device's credentials: send `access_token` as a bearer token; before `expires_in`
    seconds pass, trade `refresh_token` for a new pair (it is good once)."""

    access_token: str
    token_type: str = "bearer"  # noqa: S105 (the scheme, not a secret)
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    device_id: uuid.UUID
    user_id: uuid.UUID
    tenant_id: uuid.UUID


class StoreAppCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    store_ids: list[uuid.UUID] = Field(min_length=1, max_length=1000)
    org_unit_id: uuid.UUID | None = None


class StoreAppUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    store_ids: list[uuid.UUID] | None = Field(default=None, min_length=1, max_length=1000)
    revoked: bool | None = None


class StoreApp(BaseModel):
    id: uuid.UUID
    name: str
    org_unit_id: uuid.UUID
    store_ids: list[uuid.UUID]
    key_prefix: str
    revoked_at: datetime | None
    api_key: str | None = Field(
        default=None, description="shown once, when the app is created or its key rotated"
    )
    created_at: datetime
    updated_at: datetime
