"""API schemas for customers and prospects."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

from backend.common.cadence import Cadence

Status = Literal["customer", "prospect", "dormant"]
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class HoursWindow(BaseModel):
    """A preferred visiting window in the tenant's local time; days 0 = Monday."""

    model_config = ConfigDict(extra="forbid")
    days: list[int] = Field(default_factory=lambda: list(range(7)))
    start: str = Field(examples=["09:00"])
    end: str = Field(examples=["12:00"])

    @field_validator("days")
    @classmethod
    def _days(cls, v: list[int]) -> list[int]:
        if not v or any(d < 0 or d > 6 for d in v):
            raise ValueError("days are 0 (Monday) to 6 (Sunday), at least one")
        return sorted(set(v))

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        if not _HHMM.match(v):
            raise ValueError("time must be HH:MM (24 h)")
        return v

    @model_validator(mode="after")
    def _order(self) -> HoursWindow:
        if self.start >= self.end:
            raise ValueError("start must be before end")
        return self


# Money is exact inside (numeric) and a JSON number outside, as the OpenAPI document says.
Money = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]


class _CustomerFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    phone: str | None = Field(default=None, max_length=32)
    address: str | None = Field(default=None, max_length=500)
    income_band: str | None = Field(default=None, max_length=32)
    household_type: str | None = Field(default=None, max_length=32)
    life_stage: str | None = Field(default=None, max_length=32)
    lifestyle_tags: list[str] = Field(default_factory=list, max_length=50)
    value: Money = Field(default=Decimal(0), ge=0, le=999_999_999_999)
    last_contact_at: datetime | None = None
    do_not_visit: bool = False
    preferred_hours: list[HoursWindow] = Field(default_factory=list, max_length=21)
    cadence: Cadence | None = Field(
        default=None, description="how often to see them; none: their segment's, if any"
    )
    assigned_agent_id: uuid.UUID | None = None
    external_id: str | None = Field(default=None, min_length=1, max_length=128)

    @field_validator("last_contact_at")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("timestamp needs a timezone (RFC 3339)")
        return v


class CustomerCreate(_CustomerFields):
    name: str = Field(min_length=1, max_length=200)
    status: Status = "prospect"
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    org_unit_id: uuid.UUID | None = Field(
        default=None, description="owning unit; defaults to the caller's unit"
    )


class CustomerUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    status: Status | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    org_unit_id: uuid.UUID | None = None
    phone: str | None = Field(default=None, max_length=32)
    address: str | None = Field(default=None, max_length=500)
    income_band: str | None = Field(default=None, max_length=32)
    household_type: str | None = Field(default=None, max_length=32)
    life_stage: str | None = Field(default=None, max_length=32)
    lifestyle_tags: list[str] | None = Field(default=None, max_length=50)
    value: Money | None = Field(default=None, ge=0, le=999_999_999_999)
    last_contact_at: datetime | None = None
    do_not_visit: bool | None = None
    preferred_hours: list[HoursWindow] | None = Field(default=None, max_length=21)
    cadence: Cadence | None = None
    assigned_agent_id: uuid.UUID | None = None
    external_id: str | None = Field(default=None, min_length=1, max_length=128)


class Customer(_CustomerFields):
    model_config = ConfigDict(extra="ignore")
    id: uuid.UUID
    org_unit_id: uuid.UUID
    name: str
    status: Status
    lat: float
    lon: float
    created_at: datetime
    updated_at: datetime
    # From imported transactions (POST /transactions), NULL without any in the last two years.
    rfm_recency_days: int | None = Field(default=None, description="days since the last one")
    rfm_frequency: int | None = Field(default=None, description="transactions, two years")
    rfm_monetary: float | None = Field(default=None, description="their sum")
    rfm_r: int | None = Field(default=None, description="recency quintile, 5 = most recent")
    rfm_f: int | None = Field(default=None, description="frequency quintile, 5 = most")
    rfm_m: int | None = Field(default=None, description="monetary quintile, 5 = most")
    churn_risk: float | None = Field(
        default=None, description="0 within the usual gap between purchases, 1 at three times it"
    )
