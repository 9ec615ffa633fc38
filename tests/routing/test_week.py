"""The week planner (routing/week.py): which days a due customer may take, and a week planned
whole putting each neighbourhood's customers on the day an appointment already takes the
agent there, where planning each day alone does not."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from routing import plan as planner
from routing.travel import GeoPoint
from routing.week import DueVisit, Week, WorkDay, allowed_days, plan_week

KST = timezone(timedelta(hours=9))
MONDAY = date(2027, 3, 8)
DAYS = [MONDAY + timedelta(days=k) for k in range(5)]
SUNDAY = MONDAY + timedelta(days=6)
OFFICE = GeoPoint(37.55, 127.00)
WEST = GeoPoint(37.55, 126.90)  # ~9 km from the office
EAST = GeoPoint(37.55, 127.10)


def at(day: date, hour: float) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=KST) + timedelta(hours=hour)


def visit(stop_id: str, where: GeoPoint, due: date, every: int = 28, **kw: object) -> DueVisit:
    return DueVisit(planner.Stop(stop_id, where, 1200), due, every, **kw)  # type: ignore[arg-type]


def test_allowed_days_follow_the_due_date_the_early_margin_and_the_weekdays() -> None:
    # Overdue: any working day.
    assert allowed_days(visit("a", WEST, MONDAY - timedelta(days=9)), DAYS, SUNDAY)[0] == tuple(
        DAYS
    )
    # Due Friday every 8 days: two days early at most (a quarter of the interval).
    allowed, _ = allowed_days(visit("b", WEST, DAYS[4], every=8), DAYS, SUNDAY)
    assert allowed == (DAYS[2], DAYS[3], DAYS[4])
    # Due Sunday: the week's last working day still counts (nobody visits on Sunday).
    assert allowed_days(visit("c", WEST, SUNDAY, every=4), DAYS, SUNDAY)[0] == (DAYS[4],)
    # Due next week: not this week's.
    assert allowed_days(visit("d", WEST, SUNDAY + timedelta(days=1)), DAYS, SUNDAY) == ((), None)
    # A preferred weekday kept when allowed; else the other days, with a note.
    assert allowed_days(visit("e", WEST, MONDAY, weekdays=(2,)), DAYS, SUNDAY) == ((DAYS[2],), None)
    kept, note = allowed_days(visit("f", WEST, MONDAY, weekdays=(5,)), DAYS, SUNDAY)
    assert kept == tuple(DAYS) and note is not None


def _day(d: date) -> WorkDay:
    return WorkDay(d, planner.Agent("agent", OFFICE, at(d, 9), at(d, 18)))


def test_a_week_puts_each_neighbourhood_on_the_day_its_appointment_is() -> None:
    days = (_day(DAYS[0]), _day(DAYS[1]))
    # Tuesday's appointment is in the west, Monday's in the east.
    appointments = (
        planner.Stop("appt-east", EAST, 1800, planner.StopKind.APPOINTMENT, ((at(DAYS[0], 10),) * 2,)),
        planner.Stop("appt-west", WEST, 1800, planner.StopKind.APPOINTMENT, ((at(DAYS[1], 10),) * 2,)),
    )  # fmt: skip
    due = tuple(
        visit(f"{side}{k}", GeoPoint(p.lat + 0.004 * k, p.lon), MONDAY - timedelta(days=3))
        for side, p in (("w", WEST), ("e", EAST))
        for k in range(3)
    )
    # A Friday appointment on a day that is not worked this week: left out, saying so.
    friday = planner.Stop(
        "appt-friday", EAST, 1800, planner.StopKind.APPOINTMENT, ((at(DAYS[4], 10),) * 2,)
    )
    week = Week(days, SUNDAY, (*appointments, friday), due)
    result = plan_week(week, planner.Options(time_limit_s=1.0, workers=1))
    on = {s.stop_id: d.day for d in result.days for s in d.plan.stops}
    assert on["appt-east"] == DAYS[0] and on["appt-west"] == DAYS[1]
    assert all(on[f"e{k}"] == DAYS[0] for k in range(3)), on
    assert all(on[f"w{k}"] == DAYS[1] for k in range(3)), on
    assert result.due == 6 and result.due_planned == 6
    [dropped] = result.dropped
    assert dropped.stop_id == "appt-friday" and dropped.reason is planner.DropReason.NOT_ALLOWED
    # Each day alone, greedily (Monday takes every due customer it can): more travel.
    alone = 0
    left = list(due)
    for d, appointment in zip(days, appointments, strict=True):
        stops = (appointment, *(replace_kind(v.stop) for v in left))
        r = planner.plan(
            planner.Problem((d.agent,), stops), planner.Options(time_limit_s=0.5, workers=1)
        )
        alone += r.agents[0].travel_s
        done = {s.stop_id for s in r.agents[0].stops}
        left = [v for v in left if v.stop.id not in done]
    assert result.travel_s < alone


def replace_kind(stop: planner.Stop) -> planner.Stop:
    return planner.Stop(stop.id, stop.location, stop.service_s, planner.StopKind.MUST)


def test_a_week_with_no_working_day_says_why_for_every_due_customer() -> None:
    result = plan_week(Week((), SUNDAY, (), (visit("a", WEST, MONDAY),)))
    assert result.due == 1 and result.due_planned == 0
    assert [(d.stop_id, d.detail) for d in result.dropped] == [("a", "no working day")]
