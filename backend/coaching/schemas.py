"""Coaching notes, their replies and the actions the planner obeys."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from backend.db.models import MAX_NOTE_CHARS

Subject = Literal["day", "visit", "plan"]


class AreaIn(BaseModel):
    """A circle the plan keeps away from."""

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    radius_m: float = Field(gt=0, le=50_000)


class CoachingIn(BaseModel):
    """Actions from a manager's note: boosts, a focus segment, a visit target, areas to avoid."""

    boost: dict[uuid.UUID, float] = Field(default_factory=dict, description="customer → points")
    focus_segment: str | None = Field(default=None, description="a customer life_stage")
    focus_factor: float = Field(default=1.5, ge=1, le=10)
    target_visits: int | None = Field(default=None, ge=1, le=100)
    avoid: list[AreaIn] = Field(default_factory=list, max_length=50)


class NoteActions(CoachingIn):
    """What the planner does differently for this agent while the note applies."""

    model_config = ConfigDict(extra="forbid")
    focus_campaign_id: uuid.UUID | None = Field(
        default=None, description="the campaign's unconverted members get its boost in plans"
    )


class NoteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agent_id: uuid.UUID | None = Field(
        default=None, description="whose day; taken from the visit or plan when one is given"
    )
    subject: Subject = "day"
    day: date | None = Field(default=None, description="for a note on a day")
    visit_id: uuid.UUID | None = None
    plan_id: uuid.UUID | None = None
    body: str = Field(min_length=1, max_length=MAX_NOTE_CHARS)
    actions: NoteActions | None = None
    applies_from: date | None = Field(
        default=None, description="first day the actions bind the planner (default: today)"
    )
    applies_until: date | None = Field(
        default=None, description="last day they bind it (default: a week after applies_from)"
    )

    @field_validator("applies_until")
    @classmethod
    def _window(cls, value: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("applies_from")
        if value is not None and start is not None and value < start:
            raise ValueError("applies_until is before applies_from")
        return value


class ReplyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: str = Field(min_length=1, max_length=MAX_NOTE_CHARS)


class NoteOut(BaseModel):
    id: uuid.UUID
    agent_id: uuid.UUID
    author_id: uuid.UUID
    author_name: str
    parent_id: uuid.UUID | None
    subject: Subject
    day: date
    visit_id: uuid.UUID | None
    plan_id: uuid.UUID | None
    body: str
    actions: NoteActions | None
    applies_from: date | None
    applies_until: date | None
    acknowledged_at: datetime | None
    created_at: datetime
    replies: list[NoteOut] = Field(default_factory=list)
