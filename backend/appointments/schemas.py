"""API schemas for appointments and calendar feeds."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

Status = Literal["planned", "confirmed", "cancelled", "done"]


def _after_start(value: datetime | None, info: ValidationInfo) -> datetime | None:
    start = info.data.get("start")
    if value is not None and start is not None and value < start:
        raise ValueError("latest_start is before start")
    return value


class AppointmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agent_id: uuid.UUID | None = Field(
        default=None, description="whose appointment (default: the calling agent)"
    )
    customer_id: uuid.UUID
    start: AwareDatetime = Field(description="the agreed start")
    latest_start: AwareDatetime | None = Field(
        default=None, description="the latest acceptable start (default: `start`)"
    )
    duration_min: int = Field(default=60, ge=1, le=600)
    status: Literal["planned", "confirmed"] = "planned"
    title: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, max_length=2000)

    _window = field_validator("latest_start")(
        classmethod(lambda cls, v, info: _after_start(v, info))
    )


class AppointmentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: AwareDatetime | None = None
    latest_start: AwareDatetime | None = None
    duration_min: int | None = Field(default=None, ge=1, le=600)
    status: Status | None = None
    title: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, max_length=2000)


class AppointmentAt(BaseModel):
    """The appointment an `appointment_set` outcome agrees (at a check-out or a visit's
    update): with the visit's agent and customer."""

    model_config = ConfigDict(extra="forbid")
    start: AwareDatetime
    latest_start: AwareDatetime | None = None
    duration_min: int = Field(default=60, ge=1, le=600)
    title: str | None = Field(default=None, max_length=200)

    _window = field_validator("latest_start")(
        classmethod(lambda cls, v, info: _after_start(v, info))
    )


class AppointmentOut(BaseModel):
    id: uuid.UUID
    agent_id: uuid.UUID
    customer_id: uuid.UUID
    start: datetime
    latest_start: datetime
    duration_min: int
    status: Status
    title: str | None
    note: str | None
    source: Literal["api", "outcome", "ical"]
    set_at_visit_id: uuid.UUID | None
    visit_id: uuid.UUID | None
    created_at: datetime


class ImportOut(BaseModel):
    created: int
    updated: int


class FeedOut(BaseModel):
    id: uuid.UUID
    agent_id: uuid.UUID
    url: str = Field(description="the feed's address, with its token: shown once")


class FeedListed(BaseModel):
    id: uuid.UUID
    agent_id: uuid.UUID
    created_at: datetime
    revoked_at: datetime | None
