"""An agent's working week: appointments fixed, customers due by their cadence spread over the
days, prospects filling the gaps.

The week is one routing problem whose vehicles are the agent's working days: each day a
vehicle with that day's shift and lunch, leaving from and coming back to the agent's start.
An appointment may only be served on its own day; a due customer on the days its cadence
allows (``allowed_days``); a prospect on any day, once. One search then trades every day's
travel against the others, where planning each day alone fills Monday with whatever is near
and leaves Thursday the scattered rest.

Cadence days. A customer seen every ``interval_days`` is due ``interval_days`` after the last
visit, and due this week when that falls on or before the week's last day (its weekend
too: nobody visits then, so Monday to Friday must do). A visit a little early keeps the
rhythm; a visit much earlier only moves the next one forward, so a due customer may be seen
from a quarter of its interval before the due date (``EARLY_FRACTION``), and any day once
overdue. Preferred weekdays narrow those days when they can; when none of them is allowed the
visit keeps the other days, with a note. A customer due after this week waits for its week.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from routing.model import (
    Agent,
    AgentPlan,
    Coaching,
    DroppedStop,
    DropReason,
    Options,
    Problem,
    Stop,
    StopKind,
)
from routing.plan import plan
from routing.travel import TravelTimes

EARLY_FRACTION = 0.25
FIRST_SHARE = 0.6  # of the solver's time: appointments and due customers, before prospects


@dataclass(frozen=True, slots=True)
class WorkDay:
    day: date
    agent: Agent  # the day's shift, lunch and start; its id is replaced by the day's


@dataclass(frozen=True, slots=True)
class DueVisit:
    """A customer the cadence says to see: ``stop`` (kind MUST) with its windows on every day
    of the week it might be seen."""

    stop: Stop
    due: date
    interval_days: int
    weekdays: tuple[int, ...] = ()  # preferred, Monday = 0


@dataclass(frozen=True, slots=True)
class Week:
    days: tuple[WorkDay, ...]
    until: date  # the week's last day: who is due by then is due this week
    appointments: tuple[Stop, ...] = ()  # their windows say the day
    due: tuple[DueVisit, ...] = ()
    prospects: tuple[Stop, ...] = ()
    coaching: Coaching = field(default_factory=Coaching)


@dataclass(frozen=True, slots=True)
class DayPlan:
    day: date
    plan: AgentPlan


@dataclass(frozen=True, slots=True)
class WeekResult:
    days: tuple[DayPlan, ...]
    dropped: tuple[DroppedStop, ...]
    # Due customers: how many, how many planned this week; notes on ones whose preferred
    # weekday could not be kept (stop id → why).
    due: int
    due_planned: int
    notes: dict[str, str]
    travel_s: int
    solve_ms: int
    strategy: str
    travel: str
    travel_note: str | None


def day_id(day: date) -> str:
    return day.isoformat()


def allowed_days(
    visit: DueVisit, days: Sequence[date], until: date
) -> tuple[tuple[date, ...], str | None]:
    """The working days of the week a customer due by `until` may be seen on, and a note
    when its preferred weekdays could not be kept. Empty when it is not due this week."""
    if not days or visit.due > until:
        return (), None
    early = visit.due - timedelta(days=int(visit.interval_days * EARLY_FRACTION))
    fit = tuple(d for d in days if d >= early) or (days[-1],)
    if visit.weekdays:
        preferred = tuple(d for d in fit if d.weekday() in visit.weekdays)
        if preferred:
            return preferred, None
        return fit, "none of its preferred weekdays is a working day it is due on this week"
    return fit, None


@dataclass(frozen=True, slots=True)
class _Posed:
    problem: Problem
    notes: dict[str, str]  # due customers whose preferred weekdays could not be kept
    due_ids: list[str]  # the customers due this week
    # Appointments on a day that is not a working day; due customers when no day is.
    off_days: list[DroppedStop]


def problem_of(week: Week) -> _Posed:
    """The week as one routing problem: a vehicle a working day, each appointment on the day
    its window opens (in the agent's time zone), each due customer on its allowed days."""
    dates = [w.day for w in week.days]
    zone = week.days[0].agent.shift_start.tzinfo if week.days else None
    agents = tuple(replace(w.agent, id=day_id(w.day)) for w in week.days)
    stops: list[Stop] = []
    off_days: list[DroppedStop] = []
    for a in week.appointments:
        on = a.windows[0][0].astimezone(zone).date()
        if on not in dates:
            off_days.append(
                DroppedStop(a.id, a.kind, DropReason.NOT_ALLOWED, f"{on} is not a working day")
            )
            continue
        stops.append(replace(a, agents=(day_id(on),)))
    notes: dict[str, str] = {}
    due_ids: list[str] = []
    for v in week.due:
        if v.due > week.until:
            continue
        due_ids.append(v.stop.id)
        allowed, note = allowed_days(v, dates, week.until)
        if not allowed:
            off_days.append(
                DroppedStop(v.stop.id, StopKind.MUST, DropReason.NO_TIME, "no working day")
            )
            continue
        if note:
            notes[v.stop.id] = note
        ok = {day_id(d) for d in allowed}
        windows = tuple(w for w in v.stop.windows if day_id(w[0].astimezone(zone).date()) in ok)
        stops.append(replace(v.stop, kind=StopKind.MUST, agents=tuple(sorted(ok)), windows=windows))
    stops.extend(week.prospects)
    problem = Problem(agents=agents, stops=tuple(stops), coaching=week.coaching)
    return _Posed(problem, notes, due_ids, off_days)


def appointments_first(problem: Problem, travel: TravelTimes | None) -> dict[str, list[str]]:
    """Each day's appointments as they can be kept together, planned alone: the week's
    search starts from them, so it never trades an appointment it could keep for a day full
    of due customers (leaving one out costs more than any number of them, but a search
    that has filled the day may not find the way back)."""
    start: dict[str, list[str]] = {}
    quick = Options(time_limit_s=0.2, solution_limit=50, workers=1)
    for agent in problem.agents:
        own = tuple(
            s for s in problem.stops if s.kind is StopKind.APPOINTMENT and s.agents == (agent.id,)
        )
        if own:
            alone = plan(Problem((agent,), own), quick, travel)
            start[agent.id] = [s.stop_id for s in alone.agents[0].stops]
    return start


def plan_week(
    week: Week,
    options: Options | None = None,
    travel: TravelTimes | None = None,
    pool: ProcessPoolExecutor | None = None,
) -> WeekResult:
    """Plan the week in one search (see the module's text), from the appointments each day
    can keep. A due customer left out says why, as any stop does (routing.reasons)."""
    posed = problem_of(week)
    problem, due_ids = posed.problem, posed.due_ids
    if not problem.agents:
        dropped = tuple(posed.off_days)
        return WeekResult((), dropped, len(due_ids), 0, posed.notes, 0, 0, "none", "none", None)
    options = options or Options()
    # Appointments first, then the customers due, then the prospects in the gaps: a first
    # search without the prospects (they would take the room a due customer needs before the
    # search finds the trade), then all of it from there.
    first = replace(
        problem, stops=tuple(s for s in problem.stops if s.kind is not StopKind.OPTIONAL)
    )
    spread = plan(
        first,
        replace(options, time_limit_s=options.time_limit_s * FIRST_SHARE),
        travel,
        appointments_first(first, travel),
        pool,
    )
    result = plan(
        problem,
        replace(options, time_limit_s=options.time_limit_s * (1 - FIRST_SHARE)),
        travel,
        {p.agent_id: [s.stop_id for s in p.stops] for p in spread.agents},
        pool,
    )
    by_id = {p.agent_id: p for p in result.agents}
    days = tuple(DayPlan(w.day, by_id[day_id(w.day)]) for w in week.days)
    planned = {s.stop_id for d in days for s in d.plan.stops}
    return WeekResult(
        days=days,
        dropped=tuple(posed.off_days) + result.dropped,
        due=len(due_ids),
        due_planned=sum(1 for i in due_ids if i in planned),
        notes=posed.notes,
        travel_s=sum(d.plan.travel_s for d in days),
        solve_ms=spread.solve_ms + result.solve_ms,
        strategy=result.strategy,
        travel=result.travel,
        travel_note=result.travel_note,
    )
