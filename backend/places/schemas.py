"""API schemas for places, beacons and Wi-Fi access points."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

PlaceKind = Literal["store", "apartment_complex", "workplace", "other"]
BeaconProtocol = Literal["ibeacon", "eddystone"]
_BSSID = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


def _bssid(v: str) -> str:
    norm = v.strip().lower().replace("-", ":")
    if not _BSSID.match(norm):
        raise ValueError("BSSID must be six hex octets, e.g. 00:11:22:aa:bb:cc")
    return norm


Bssid = Annotated[str, AfterValidator(_bssid)]


class PlaceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: PlaceKind
    name: str = Field(min_length=1, max_length=200)
    address: str | None = Field(default=None, max_length=500)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    footprint: dict[str, Any] | None = Field(
        default=None, description="RFC 7946 Polygon or MultiPolygon (lon, lat)"
    )
    household_count: int | None = Field(default=None, ge=0)
    attributes: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list, max_length=50)
    external_id: str | None = Field(default=None, min_length=1, max_length=128)
    org_unit_id: uuid.UUID | None = None


class PlaceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: PlaceKind | None = None
    name: str | None = Field(default=None, min_length=1, max_length=200)
    address: str | None = Field(default=None, max_length=500)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    footprint: dict[str, Any] | None = None
    household_count: int | None = Field(default=None, ge=0)
    attributes: dict[str, Any] | None = None
    tags: list[str] | None = Field(default=None, max_length=50)
    external_id: str | None = Field(default=None, min_length=1, max_length=128)
    org_unit_id: uuid.UUID | None = None


class Place(BaseModel):
    id: uuid.UUID
    org_unit_id: uuid.UUID
    kind: PlaceKind
    name: str
    address: str | None
    lat: float
    lon: float
    footprint: dict[str, Any] | None
    household_count: int | None
    attributes: dict[str, Any]
    tags: list[str]
    external_id: str | None
    created_at: datetime
    updated_at: datetime


class _BeaconIdentity(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, max_length=200)
    ibeacon_uuid: uuid.UUID | None = None
    major: int | None = Field(default=None, ge=0, le=65535)
    minor: int | None = Field(default=None, ge=0, le=65535)
    eddystone_namespace: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{20}$")
    eddystone_instance: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{12}$")
    tx_power: int | None = Field(default=None, ge=-127, le=20, description="RSSI at 1 m, dBm")

    @field_validator("eddystone_namespace", "eddystone_instance")
    @classmethod
    def _lower(cls, v: str | None) -> str | None:
        return v.lower() if v else v


class BeaconCreate(_BeaconIdentity):
    place_id: uuid.UUID
    protocol: BeaconProtocol


class BeaconUpdate(_BeaconIdentity):
    place_id: uuid.UUID | None = None
    protocol: BeaconProtocol | None = None


class Beacon(_BeaconIdentity):
    model_config = ConfigDict(extra="ignore")
    id: uuid.UUID
    place_id: uuid.UUID
    protocol: BeaconProtocol
    created_at: datetime
    updated_at: datetime


class WifiAccessPointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    place_id: uuid.UUID
    bssid: Bssid
    ssid: str | None = Field(default=None, max_length=64)


class WifiAccessPointUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    place_id: uuid.UUID | None = None
    bssid: Bssid | None = None
    ssid: str | None = Field(default=None, max_length=64)


class WifiAccessPoint(BaseModel):
    id: uuid.UUID
    place_id: uuid.UUID
    bssid: str
    ssid: str | None
    created_at: datetime
    updated_at: datetime
