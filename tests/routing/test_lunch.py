"""Lunch never pushes out an appointment (routing/lunch.py): it moves inside its window,
shortens to what the appointments leave, or is left out; an appointment is dropped only when
it cannot be kept, with that reason."""

from __future__ import annotations

from datetime import timedelta

from routing.lunch import MIN_LUNCH_S, fit_lunch
from routing.plan import DropReason, Lunch, Problem, Stop, StopKind, plan
from tests.routing.test_plan import FAST, HOME, agent, appointment, at, offset

LUNCH = Lunch(at(12), at(13.5), 45 * 60)


def _no_travel(n: int) -> list[list[int]]:
    return [[0] * n for _ in range(n)]


def test_a_gap_that_holds_the_lunch_keeps_it() -> None:
    a = appointment("a", 12.5, HOME, minutes=30)  # 12:30-13:00; lunch may start until 13:30
    fitted = fit_lunch(agent(lunch=LUNCH), [(a, 0)], 1, 2, _no_travel(3))
    assert fitted.lunch == LUNCH and fitted.note is None


def test_the_lunch_shortens_to_the_longest_gap_in_its_window() -> None:
    # 11:30-12:00, 12:25-13:00, 13:20-14:00 (and the travel between them nothing): the gaps
    # inside the lunch's window are 25 and 20 minutes.
    stops = [
        appointment("a", 11.5, HOME, minutes=30),
        Stop("b", HOME, 35 * 60, StopKind.APPOINTMENT, ((at(12) + timedelta(minutes=25),) * 2,)),
        Stop("c", HOME, 40 * 60, StopKind.APPOINTMENT, ((at(13) + timedelta(minutes=20),) * 2,)),
    ]
    fitted = fit_lunch(
        agent(lunch=LUNCH), [(s, k) for k, s in enumerate(stops)], 3, 4, _no_travel(5)
    )
    assert fitted.lunch is not None and fitted.lunch.duration_s == 25 * 60
    assert fitted.lunch.earliest == at(12) and fitted.lunch.latest == at(12)
    assert fitted.note == "lunch shortened to 25 min: the appointments leave no more"


def test_no_room_at_all_leaves_the_lunch_out_and_says_so() -> None:
    stops = [
        Stop("a", HOME, 100 * 60, StopKind.APPOINTMENT, ((at(11.9),) * 2,)),
        Stop("b", HOME, 60 * 60, StopKind.APPOINTMENT, ((at(11.9) + timedelta(minutes=110),) * 2,)),
    ]
    fitted = fit_lunch(
        agent(lunch=LUNCH), [(s, k) for k, s in enumerate(stops)], 2, 3, _no_travel(4)
    )
    assert fitted.lunch is None and fitted.note is not None and "no lunch" in fitted.note
    assert MIN_LUNCH_S == 15 * 60


def test_lunch_moves_around_an_appointment_at_half_past_twelve() -> None:
    near = offset(300, 0)
    stops = (appointment("a", 12.5, near, minutes=30), appointment("b", 10, offset(0, 400)))
    result = plan(Problem((agent(lunch=LUNCH),), stops), FAST)
    day = result.agents[0]
    assert [s.stop_id for s in day.stops if s.kind is StopKind.APPOINTMENT] == ["b", "a"]
    assert day.lunch is not None and day.lunch_note is None
    start, end = day.lunch
    assert end - start == timedelta(minutes=45)
    kept = next(s for s in day.stops if s.stop_id == "a")
    assert end <= kept.start or start >= kept.departure
    assert result.dropped == ()


def test_a_day_that_leaves_no_full_lunch_keeps_every_appointment() -> None:
    # Appointments every 65 minutes through lunchtime, 30 minutes each, a few hundred metres
    # apart: a 45-minute lunch never fits, and before, one appointment went for it.
    stops = tuple(
        appointment(f"a{k}", 11 + 65 * k / 60, offset(200 * k, 150 * (k % 2)), minutes=30)
        for k in range(4)
    )
    lunch = Lunch(at(12), at(14), 45 * 60)
    result = plan(Problem((agent(lunch=lunch),), stops), FAST)
    day = result.agents[0]
    assert result.dropped == ()
    assert day.lunch is not None and day.lunch_note is not None
    assert timedelta(minutes=15) <= day.lunch[1] - day.lunch[0] < timedelta(minutes=45)


def test_appointments_that_cannot_both_be_kept_drop_one_as_a_conflict() -> None:
    overlapping = (appointment("a", 10, HOME), appointment("b", 10.5, offset(100, 0)))
    result = plan(Problem((agent(),), overlapping), FAST)
    assert [(d.reason, d.detail.split(" ")[0]) for d in result.dropped] == [
        (DropReason.CONFLICT, "overlaps")
    ]
    # 25 km apart and 70 minutes between their starts: no car makes it.
    far = (appointment("a", 10, HOME), appointment("b", 11 + 10 / 60, offset(0, 25_000)))
    result = plan(Problem((agent(),), far), FAST)
    (dropped,) = result.dropped
    assert dropped.reason is DropReason.CONFLICT and "too far from appointment" in dropped.detail


def test_a_day_with_a_lunch_starts_in_the_morning_not_at_the_end_of_the_shift() -> None:
    """The solver's path (a break in the day) fixes the times by finishing as early as the
    stops allow, then leaving as late as that allows: three visits without windows are made
    from 09:00, not slid to the afternoon (they were, 16:03 to 18:00, before the order of the
    two was mended), and a day whose first commitment is at 14:00 does not leave at 09:00."""
    lunch = Lunch(at(11.5), at(13.5), 3600)
    visits = tuple(Stop(f"v{k}", offset(2000 + 300 * k, 0), 1200, StopKind.MUST) for k in range(3))
    day = plan(Problem((agent(lunch=lunch),), visits), FAST).agents[0]
    assert len(day.stops) == 3
    assert day.depart == at(9) and day.stops[-1].departure < at(11.5), day
    late = plan(
        Problem((agent(lunch=lunch),), (appointment("a", 14, offset(3000, 0)),)), FAST
    ).agents[0]
    assert at(13) < late.depart < at(14), late.depart  # leaves for it, no idle morning
