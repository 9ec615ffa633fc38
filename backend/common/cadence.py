"""A visit cadence: how often a customer is to be seen. Customers carry their own
(backend/customers), a tenant's settings one per segment (backend/tenants/settings.py); week
plans read both (backend/plans/week.py)."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class Cadence(BaseModel):
    """How often a customer is to be seen: every N days, every N weeks, or N times a month
    (every 30 / N days, rounded down); with preferred weekdays (0 = Monday, as in
    `preferred_hours`) and hours, kept when the week allows."""

    model_config = ConfigDict(extra="forbid")
    every_days: int | None = Field(default=None, ge=1, le=730)
    every_weeks: int | None = Field(default=None, ge=1, le=104)
    per_month: int | None = Field(default=None, ge=1, le=30)
    weekdays: list[int] = Field(default_factory=list, description="0 = Monday .. 6 = Sunday")
    start: str | None = Field(default=None, examples=["09:00"], description="preferred from")
    end: str | None = Field(default=None, examples=["12:00"], description="preferred until")

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, v: list[int]) -> list[int]:
        if any(d < 0 or d > 6 for d in v):
            raise ValueError("weekdays are 0 (Monday) to 6 (Sunday)")
        return sorted(set(v))

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, v: str | None) -> str | None:
        if v is not None and not _HHMM.match(v):
            raise ValueError("time must be HH:MM (24 h)")
        return v

    @model_validator(mode="after")
    def _one_rhythm(self) -> Cadence:
        given = [self.every_days, self.every_weeks, self.per_month]
        if sum(x is not None for x in given) != 1:
            raise ValueError("give exactly one of every_days, every_weeks, per_month")
        if (self.start is None) != (self.end is None):
            raise ValueError("start and end go together")
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise ValueError("start must be before end")
        return self

    @property
    def interval_days(self) -> int:
        if self.every_days is not None:
            return self.every_days
        if self.every_weeks is not None:
            return 7 * self.every_weeks
        return max(1, 30 // (self.per_month or 1))
