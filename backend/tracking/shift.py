"""When an agent works: the shift's hours in their time zone, on their working days (their
profile's `workdays`, bar their `time_off` and the public holidays of the tenant's country:
backend/tenants/calendar.py). Points from outside it are not kept unless the tenant captures
outside working hours."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from backend.tenants.calendar import ALL_DAYS, day_off


def time_off_of(profile: dict[str, Any]) -> tuple[tuple[date, date], ...]:
    """The profile's `time_off` as (first, last) days, inclusive."""
    return tuple(
        (date.fromisoformat(t["first"]), date.fromisoformat(t["last"]))
        for t in profile.get("time_off") or ()
    )


@dataclass(frozen=True)
class Shift:
    start: time
    end: time
    tz: ZoneInfo
    workdays: frozenset[int] = frozenset(ALL_DAYS)
    country: str | None = None  # whose public holidays are days off
    time_off: tuple[tuple[date, date], ...] = ()  # the agent's, first and last days

    @classmethod
    def of(cls, profile: dict[str, Any] | None, country: str | None = None) -> Shift | None:
        if not profile:
            return None
        try:
            return cls(
                time.fromisoformat(profile.get("shift_start", "09:00")),
                time.fromisoformat(profile.get("shift_end", "18:00")),
                ZoneInfo(profile.get("timezone") or "UTC"),
                frozenset(profile.get("workdays") or ALL_DAYS),
                country,
                time_off_of(profile),
            )
        except (ValueError, KeyError, TypeError, ZoneInfoNotFoundError):
            return None

    def covers(self, t: float) -> bool:
        return self.why_not(t) is None

    def why_not(self, t: float) -> str | None:
        """Why a point at `t` is outside the agent's working time, or None."""
        local = datetime.fromtimestamp(t, self.tz)
        if not self.start <= local.time() < self.end:
            return "outside the agent's shift"
        if (self.country or len(self.workdays) < 7 or self.time_off) and day_off(
            local.date(), self.workdays, self.country, self.time_off
        ):
            return "on the agent's day off"
        return None
