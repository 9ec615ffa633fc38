"""Working days: the weekdays an agent works (their planning profile's `workdays`) and the
public holidays of the tenant's country (`holiday_country`, the `holidays` package: Korea's
lunar holidays included). Nightly plans skip days off; points from them are kept only where
the tenant captures outside working hours."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, timedelta
from functools import lru_cache

import holidays

from backend.i18n import N_

ALL_DAYS = (1, 2, 3, 4, 5, 6, 7)  # ISO weekdays, Monday 1 .. Sunday 7


def known_country(code: str) -> str:
    """An ISO 3166-1 alpha-2 code the holiday calendars know (a ValueError if not)."""
    code = code.upper()
    if code not in holidays.list_supported_countries():
        raise ValueError(f"no public holidays known for {code!r} (ISO 3166-1 alpha-2, e.g. KR)")
    return code


@lru_cache(maxsize=64)
def _holidays(country: str, year: int) -> dict[date, str]:
    """The country's public holidays of the year, named in English where the calendar has
    it (the Korean catalog has Korea's names: backend/i18n)."""
    supported = holidays.country_holidays(country).supported_languages
    english = next((s for s in supported if s.split("_")[0] == "en"), None)
    return dict(holidays.country_holidays(country, years=year, language=english))


def day_off(
    day: date,
    workdays: Collection[int] = ALL_DAYS,
    country: str | None = None,
    time_off: Collection[tuple[date, date]] = (),
) -> str | None:
    """Why `day` is not a working day (the agent's time off, a weekday off, or a public
    holiday's name); None when it is one. `time_off`: first and last days, inclusive."""
    if any(first <= day <= last for first, last in time_off):
        return N_("the agent's time off")
    if day.isoweekday() not in workdays:
        return N_(f"{day:%A} is not a working day")
    if country and (name := _holidays(country, day.year).get(day)):
        return N_(f"a public holiday: {name}")
    return None


def holidays_between(country: str | None, first: date, days: int) -> list[date]:
    """The public holidays among the `days` days from `first`."""
    if not country:
        return []
    span = [first + timedelta(days=k) for k in range(days)]
    return [d for d in span if d in _holidays(country, d.year)]
