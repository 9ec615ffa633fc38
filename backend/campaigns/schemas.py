"""Campaign target lists: definitions, progress and members."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

Kind = Literal["win_back", "up_sell", "loyalty", "other"]
CustomerStatus = Literal["customer", "prospect", "dormant"]
MemberStatus = Literal["targeted", "contacted", "converted"]


class CampaignFilters(BaseModel):
    """Segment filters; every one given must hold (an empty filter targets the whole unit)."""

    model_config = ConfigDict(extra="forbid")
    statuses: list[CustomerStatus] | None = Field(default=None, min_length=1)
    life_stages: list[str] | None = Field(default=None, min_length=1, max_length=20)
    income_bands: list[str] | None = Field(default=None, min_length=1, max_length=20)
    household_types: list[str] | None = Field(default=None, min_length=1, max_length=20)
    lifestyle_tags_any: list[str] | None = Field(default=None, min_length=1, max_length=50)
    untouched_days_min: int | None = Field(default=None, ge=0, le=3650)
    value_min: float | None = Field(default=None, ge=0)


class CampaignCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    kind: Kind
    org_unit_id: uuid.UUID | None = Field(default=None, description="default: the caller's unit")
    starts_on: date
    ends_on: date
    boost: float = Field(default=10, ge=0, le=50, description="points added to members' scores")
    filters: CampaignFilters = Field(default_factory=CampaignFilters)

    @field_validator("ends_on")
    @classmethod
    def _dates(cls, value: date, info: ValidationInfo) -> date:
        start = info.data.get("starts_on")
        if start is not None and value < start:
            raise ValueError("the campaign ends before it starts")
        return value


class Progress(BaseModel):
    members: int
    targeted: int
    contacted: int
    converted: int
    contact_rate: float
    conversion_rate: float = Field(description="converted / contacted (0 before any contact)")


class Learned(BaseModel):
    """What the campaign has taught, over all its members: it scales the boost."""

    reached: int = Field(description="members contacted or converted")
    converted: int
    rate: float = Field(description="(converted + 2) / (reached + 10): a 20 % prior")
    boost_factor: float = Field(description="rate / 20 %, kept between 0.25 and 3")


class CampaignOut(BaseModel):
    id: uuid.UUID
    name: str
    kind: Kind
    org_unit_id: uuid.UUID
    starts_on: date
    ends_on: date
    boost: float
    filters: CampaignFilters
    created_at: datetime
    progress: Progress
    learned: Learned


class CampaignMemberOut(BaseModel):
    customer_id: uuid.UUID
    customer_name: str
    agent_id: uuid.UUID | None
    status: MemberStatus
    contacted_at: datetime | None
    converted_at: datetime | None
    visit_id: uuid.UUID | None
