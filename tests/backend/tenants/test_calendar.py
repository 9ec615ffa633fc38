"""Working days (backend/tenants/calendar.py): an agent's weekdays and the tenant country's
public holidays, Korea's lunar ones included."""

from __future__ import annotations

from datetime import date

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from backend.tenants.calendar import day_off, holidays_between, known_country
from backend.tracking.shift import Shift
from tests.backend.world import Tenant, errors_for, ok


def test_chuseok_and_weekends_are_days_off() -> None:
    weekdays = (1, 2, 3, 4, 5)
    assert day_off(date(2026, 9, 25), weekdays, "KR") == "a public holiday: Chuseok"
    assert day_off(date(2026, 9, 25), weekdays, None) is None  # no country: no holidays
    assert day_off(date(2026, 12, 5), weekdays, "KR") == "Saturday is not a working day"
    assert day_off(date(2026, 12, 7), weekdays, "KR") is None
    assert holidays_between("KR", date(2026, 9, 20), 10) == [
        date(2026, 9, 24), date(2026, 9, 25), date(2026, 9, 26)
    ]  # fmt: skip
    assert known_country("kr") == "KR"
    with pytest.raises(ValueError, match="no public holidays known"):
        known_country("XX")


def test_points_on_a_day_off_are_outside_the_shift() -> None:
    profile = {"shift_start": "09:00", "shift_end": "18:00", "timezone": "Asia/Seoul",
               "workdays": [1, 2, 3, 4, 5]}  # fmt: skip
    shift = Shift.of(profile, "KR")
    assert shift is not None
    monday_ten = 1_796_605_200.0  # 2026-12-07 10:00 KST
    assert shift.why_not(monday_ten) is None
    assert shift.why_not(monday_ten - 2 * 86_400) == "on the agent's day off"  # Saturday
    assert shift.why_not(monday_ten - 3 * 3600) == "outside the agent's shift"  # 07:00
    chuseok_ten = 1_790_298_000.0  # 2026-09-25 10:00 KST, a Friday
    assert shift.why_not(chuseok_ten) == "on the agent's day off"
    assert Shift.of(profile, None).why_not(chuseok_ten) is None  # type: ignore[union-attr]
    # The agent's own time off (a Monday to a Tuesday): days off too, and only those.
    leave = Shift.of({**profile, "time_off": [{"first": "2026-12-07", "last": "2026-12-08"}]})
    assert leave is not None
    assert leave.why_not(monday_ten) == "on the agent's day off"
    assert leave.why_not(monday_ten + 86_400) == "on the agent's day off"
    assert leave.why_not(monday_ten + 2 * 86_400) is None  # Wednesday
    assert day_off(date(2026, 12, 8), (1, 2, 3, 4, 5), None, [(date(2026, 12, 7),
                   date(2026, 12, 8))]) == "the agent's time off"  # fmt: skip


async def test_the_tenant_names_its_holidays_country(
    client: AsyncTestClient[Litestar], tenant: Tenant
) -> None:
    got = await ok(
        await client.patch(
            "/tenant/settings", json={"holiday_country": "kr"}, headers=tenant.h("admin")
        ),
        200,
    )
    assert got["holiday_country"] == "KR"
    resp = await client.patch(
        "/tenant/settings", json={"holiday_country": "XX"}, headers=tenant.h("admin")
    )
    assert resp.status_code == 422 and errors_for(resp) == ["holiday_country"]
