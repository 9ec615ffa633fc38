"""``fieldsense bench week``: agents' working weeks planned whole, against each day alone.

Each agent-week (seeded, ``--agents`` of them):

- a week of Korea's calendar with one public holiday on a weekday (picked by the seed among
  the year's such weeks): four working days of 08:30-18:30 with an hour's lunch between 11:30
  and 13:30, Asia/Seoul;
- 300 customers around the agent's office, in neighbourhoods (people live and work in
  clusters, not uniformly), each with a cadence: a few every two weeks or every month, most
  every quarter or twice a year; some with a preferred weekday or hours; last seen at a
  random point of their rhythm, one in twenty overdue by up to ten days. Those not due this week are the prospects, with
  a score, to fill the gaps;
- 20-40 appointments, booked the way customers book: a time on the hour or half hour, 30-60
  minutes, about an hour and a half apart, half of them with customers whose cadence is due
  anyway. Whether a day's appointments can be kept together at all is checked first by
  planning them alone: only the feasible ones count as dropped.

The week plan (``routing.week.plan_week``: one search, a vehicle a day) is measured against
planning each day alone, greedily, in order (the nightly plan: that day's appointments, every
customer due and allowed that day as a must, the prospects left), with the same solver time
in total. Travel is the planner's straight-line estimate for both: what is compared is the
choice of days, not the travel model.

Summary: ``appointments_dropped`` (feasible ones left out by the week plan),
``cadence_met_pct`` (customers due this week planned this week), ``plan_s_p50`` (wall time of
one agent-week), ``travel_vs_daily_pct`` (the week plan's travel against the days alone,
percent; negative: the week drives less).
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import holidays

from routing import plan as planner
from routing import sisr
from routing.travel import GeoPoint
from routing.week import DueVisit, Week, WeekResult, WorkDay, allowed_days, day_id, plan_week

SEOUL = ZoneInfo("Asia/Seoul")
CUSTOMERS = 300
# (share of customers, interval in days, label)
# An insurance planner's book: a few close customers every two weeks or twice a month, more
# every month, most every quarter or twice a year.
CADENCES = (
    (0.01, 14, "every 2 weeks"),
    (0.01, 15, "twice a month"),
    (0.03, 30, "monthly"),
    (0.25, 91, "quarterly"),
    (0.70, 182, "twice a year"),
)
OVERDUE = 0.05  # of the customers, last seen up to ten days longer ago than their cadence


def say(msg: str) -> None:
    print(f"[bench week] {msg}", file=sys.stderr, flush=True)


def holiday_weeks(year: int) -> list[date]:
    """Mondays of the year's weeks with exactly one public holiday on a weekday (Korea)."""
    kr = holidays.country_holidays("KR", years=year)
    out = []
    monday = date(year, 1, 1) + timedelta(days=(7 - date(year, 1, 1).weekday()) % 7)
    while monday.year == year:
        off = [monday + timedelta(days=k) for k in range(5) if monday + timedelta(days=k) in kr]
        if len(off) == 1:
            out.append(monday)
        monday += timedelta(days=7)
    return out


@dataclass(frozen=True, slots=True)
class AgentWeek:
    week: Week
    monday: date
    holiday: date
    appointments: int
    # Per working day, how many appointments cannot be kept even alone (overlapping, too far
    # apart): the least any plan must leave out.
    infeasible: dict[date, int]


def _at(day: date, hours: float) -> datetime:
    return datetime.combine(day, dtime(0), SEOUL) + timedelta(hours=hours)


def agent_week(seed: int, time_limit_s: float) -> AgentWeek:
    rnd = random.Random(seed)
    monday = rnd.choice(holiday_weeks(2027))
    kr = holidays.country_holidays("KR", years=2027)
    days = [monday + timedelta(days=k) for k in range(5)]
    holiday = next(d for d in days if d in kr)
    working = [d for d in days if d not in kr]
    office = GeoPoint(37.50 + rnd.uniform(0, 0.1), 126.90 + rnd.uniform(0, 0.15))
    hoods = [
        GeoPoint(office.lat + rnd.gauss(0, 0.035), office.lon + rnd.gauss(0, 0.045))
        for _ in range(rnd.randint(6, 10))
    ]

    def home() -> GeoPoint:
        h = rnd.choice(hoods)
        return GeoPoint(h.lat + rnd.gauss(0, 0.006), h.lon + rnd.gauss(0, 0.008))

    work_days = tuple(
        WorkDay(
            d,
            planner.Agent(
                id=day_id(d),
                start=office,
                shift_start=_at(d, 8.5),
                shift_end=_at(d, 18.5),
                lunch=planner.Lunch(_at(d, 11.5), _at(d, 12.5), 3600),
            ),
        )
        for d in working
    )
    until = days[-1] + timedelta(days=2)
    due, prospects, people = _book_of(rnd, home, monday, working, until)
    appointments = _appointments(rnd, working, people)
    booked = {a.id for a in appointments}
    due = [v for v in due if v.stop.id not in booked]
    prospects = [p for p in prospects if p.id not in booked]
    # Which appointments cannot be kept even alone (overlapping, too far apart).
    infeasible: dict[date, int] = {}
    for w in work_days:
        own = tuple(a for a in appointments if a.windows[0][0].date() == w.day)
        alone = planner.plan(
            planner.Problem((w.agent,), own),
            planner.Options(time_limit_s=min(1.0, time_limit_s), workers=1),
        )
        infeasible[w.day] = len(alone.dropped)
    week = Week(tuple(work_days), until, tuple(appointments), tuple(due), tuple(prospects))
    return AgentWeek(week, monday, holiday, len(appointments), infeasible)


def _book_of(
    rnd: random.Random,
    home: Callable[[], GeoPoint],
    monday: date,
    working: list[date],
    until: date,
) -> tuple[list[DueVisit], list[planner.Stop], list[tuple[str, GeoPoint, bool]]]:
    """The agent's 300 customers: those due by `until` (the last visit plus the cadence),
    the others as prospects with a score; and each one's id, place and whether due."""
    due: list[DueVisit] = []
    prospects: list[planner.Stop] = []
    people: list[tuple[str, GeoPoint, bool]] = []  # id, where, due this week
    for k in range(CUSTOMERS):
        cid = f"c{k}"
        where = home()
        r = rnd.random()
        cadence = CADENCES[-1][1]
        for share, interval, _label in CADENCES:
            if r < share:
                cadence = interval
                break
            r -= share
        # Last seen somewhere in the rhythm, a few overdue.
        ago = rnd.randint(0, cadence - 1)
        if rnd.random() < OVERDUE:
            ago = cadence + rnd.randint(0, 10)
        last = monday - timedelta(days=ago)
        windows: tuple[tuple[datetime, datetime], ...] = ()
        if rnd.random() < 0.2:  # prefers mornings or afternoons, every day
            a, b = rnd.choice(((9.0, 11.5), (13.5, 17.0)))
            windows = tuple((_at(d, a), _at(d, b)) for d in working)
        weekdays = (rnd.randrange(5),) if rnd.random() < 0.2 else ()
        visit = DueVisit(
            planner.Stop(cid, where, rnd.choice((900, 1200, 1500)), windows=windows),
            due=last + timedelta(days=cadence),
            interval_days=cadence,
            weekdays=weekdays,
        )
        if visit.due <= until:
            due.append(visit)
            people.append((cid, where, True))
        else:  # not due this week: a prospect to fill a gap
            prospects.append(replace(visit.stop, score=rnd.randint(1, 100)))
            people.append((cid, where, False))
    return due, prospects, people


def _appointments(
    rnd: random.Random, working: list[date], people: list[tuple[str, GeoPoint, bool]]
) -> list[planner.Stop]:
    """20-40 appointments, as customers book them: on the hour or half hour, an hour to two
    apart, half with customers due anyway; nobody twice."""
    count = rnd.randint(20, 40)
    per_day = [
        count // len(working) + (1 if i < count % len(working) else 0) for i in range(len(working))
    ]
    due_now = [p for p in people if p[2]]
    others = [p for p in people if not p[2]]
    booked: set[str] = set()
    appointments: list[planner.Stop] = []
    for d, n in zip(working, per_day, strict=True):
        slot = 9.0 + rnd.choice((0, 0.5))
        for _ in range(n):
            pool_ = due_now if rnd.random() < 0.5 and due_now else others
            choice = [p for p in pool_ if p[0] not in booked]
            if not choice or slot > 17.5:
                break
            cid, where, _ = rnd.choice(choice)
            booked.add(cid)
            start = _at(d, slot)
            appointments.append(
                planner.Stop(
                    cid,
                    where,
                    rnd.choice((1800, 2700, 3600)),
                    planner.StopKind.APPOINTMENT,
                    ((start, start + timedelta(minutes=rnd.choice((0, 15)))),),
                )
            )
            slot += rnd.choice((1.0, 1.5, 1.5, 2.0))
    return appointments


def daily_greedy(
    week: Week, options: planner.Options, pool: ProcessPoolExecutor | None
) -> dict[str, Any]:
    """Each working day alone, in order: its appointments, every customer due and allowed
    that day (a must), the prospects not yet planned. What a day plans is gone for the next."""
    dates = [w.day for w in week.days]
    done: set[str] = set()
    travel = 0
    due_ids = {v.stop.id for v in week.due}
    dropped_appointments: dict[date, int] = {}
    for w in week.days:
        stops: list[planner.Stop] = [
            a for a in week.appointments if a.windows[0][0].date() == w.day
        ]
        for v in week.due:
            allowed, _ = allowed_days(v, dates, week.until)
            if v.stop.id in done or w.day not in allowed:
                continue
            windows = tuple(x for x in v.stop.windows if x[0].date() == w.day)
            stops.append(
                planner.Stop(
                    v.stop.id, v.stop.location, v.stop.service_s, planner.StopKind.MUST, windows
                )
            )
        stops += [p for p in week.prospects if p.id not in done]
        result = planner.plan(planner.Problem((w.agent,), tuple(stops)), options, pool=pool)
        travel += result.agents[0].travel_s
        done |= {s.stop_id for s in result.agents[0].stops}
        dropped_appointments[w.day] = sum(
            1 for a in week.appointments if a.windows[0][0].date() == w.day and a.id not in done
        )
    return {
        "travel_s": travel,
        "due": len(due_ids),
        "due_planned": len(due_ids & done),
        "stops": len(done),
        "appointments_dropped": dropped_appointments,
    }


def _beyond(dropped: dict[date, int], least: dict[date, int]) -> int:
    """Appointments left out beyond the least each day must leave out."""
    return sum(max(0, n - least.get(day, 0)) for day, n in dropped.items())


def _pct(a: float, b: float) -> float:
    return round(100.0 * (a - b) / b, 2) if b else 0.0


def run(agents: int, seed: int, time_limit_s: float, json_path: Path | None) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    with ProcessPoolExecutor(max_workers=2, initializer=sisr.warm) as pool:
        for started in [pool.submit(time.sleep, 0.5) for _ in range(2)]:
            started.result()
        for n in range(agents):
            aw = agent_week(seed * 1000 + n, time_limit_s)
            options = planner.Options(time_limit_s=time_limit_s, solution_limit=None)
            t0 = time.perf_counter()
            result: WeekResult = plan_week(aw.week, options, pool=pool)
            plan_s = time.perf_counter() - t0
            per_day = planner.Options(
                time_limit_s=time_limit_s / len(aw.week.days), solution_limit=None
            )
            daily = daily_greedy(aw.week, per_day, pool)
            row = {"agent": n, **_row(aw, result, daily), "plan_s": round(plan_s, 3)}
            rows.append(row)
            say(
                f"[{n + 1}/{agents}] week of {row['week']} (holiday {row['holiday']}): "
                f"{row['appointments']} appointments ({row['appointments_infeasible']} infeasible, "
                f"{row['appointments_dropped']} dropped), due {row['due_planned']}/{row['due']} "
                f"(days alone {row['daily_due_planned']}), {row['stops']} stops "
                f"{row['stops_per_day']}, travel {row['travel_s'] / 3600:.1f} h vs days alone "
                f"{row['daily_travel_s'] / 3600:.1f} h ({row['travel_vs_daily_pct']:+.1f}%), "
                f"{plan_s:.1f}s"
            )
    return _report(rows, agents, seed, time_limit_s, json_path)


def _row(aw: AgentWeek, result: WeekResult, daily: dict[str, Any]) -> dict[str, Any]:
    """One agent-week's figures, counted here from the plans (not from what the planner
    says of itself): the due customers planned, the appointments left out beyond the least
    each day must leave out."""
    on_day = {a.id: a.windows[0][0].date() for a in aw.week.appointments}
    planned = {s.stop_id for d in result.days for s in d.plan.stops}
    dropped: dict[date, int] = {}
    for a in aw.week.appointments:
        if a.id not in planned:
            dropped[on_day[a.id]] = dropped.get(on_day[a.id], 0) + 1
    due = {v.stop.id for v in aw.week.due}
    travel_s = sum(d.plan.travel_s for d in result.days)
    return {
        "week": aw.monday.isoformat(),
        "holiday": aw.holiday.isoformat(),
        "appointments": aw.appointments,
        "appointments_infeasible": sum(aw.infeasible.values()),
        "appointments_dropped": _beyond(dropped, aw.infeasible),
        "due": len(due),
        "due_planned": len(due & planned),
        "travel_s": travel_s,
        "stops": len(planned),
        "stops_per_day": [len(d.plan.stops) for d in result.days],
        "daily_travel_s": daily["travel_s"],
        "daily_due_planned": daily["due_planned"],
        "daily_stops": daily["stops"],
        "daily_appointments_dropped": _beyond(daily["appointments_dropped"], aw.infeasible),
        "travel_vs_daily_pct": _pct(travel_s, daily["travel_s"]),
    }


def _report(
    rows: list[dict[str, Any]],
    agents: int,
    seed: int,
    time_limit_s: float,
    json_path: Path | None,
) -> dict[str, Any]:
    due = sum(r["due"] for r in rows)
    summary = {
        "appointments_dropped": sum(r["appointments_dropped"] for r in rows),
        "cadence_met_pct": round(100.0 * sum(r["due_planned"] for r in rows) / due, 2)
        if due
        else 100.0,
        "plan_s_p50": round(statistics.median(r["plan_s"] for r in rows), 3),
        "travel_vs_daily_pct": _pct(
            sum(r["travel_s"] for r in rows), sum(r["daily_travel_s"] for r in rows)
        ),
    }
    baseline = {
        "appointments_dropped": sum(r["daily_appointments_dropped"] for r in rows),
        "cadence_met_pct": round(100.0 * sum(r["daily_due_planned"] for r in rows) / due, 2)
        if due
        else 100.0,
        "stops": sum(r["daily_stops"] for r in rows),
        "travel_s": sum(r["daily_travel_s"] for r in rows),
    }
    print(
        "\n| figure | week plan | each day alone | target |\n|---|---:|---:|---|\n"
        f"| appointments dropped (feasible) | {summary['appointments_dropped']} | "
        f"{baseline['appointments_dropped']} | 0 |\n"
        f"| cadence met % | {summary['cadence_met_pct']} | {baseline['cadence_met_pct']} | >= 95 |\n"
        f"| stops | {sum(r['stops'] for r in rows)} | {baseline['stops']} | |\n"
        f"| travel h | {sum(r['travel_s'] for r in rows) / 3600:.1f} | "
        f"{baseline['travel_s'] / 3600:.1f} | |\n"
        f"| travel vs days alone % | {summary['travel_vs_daily_pct']} | | < 0 |\n"
        f"| plan s p50 (agent-week) | {summary['plan_s_p50']} | | <= 10 |\n",
        flush=True,
    )
    report = {
        "benchmark": "week",
        "agents": agents,
        "seed": seed,
        "time_limit_s": time_limit_s,
        "summary": summary,
        "daily": baseline,
        "rows": rows,
    }
    if json_path is not None:
        json_path.write_text(json.dumps(report, indent=2))
    return report


def cli(args: Any) -> int:
    run(args.agents, args.seed, args.time_limit, Path(args.json) if args.json else None)
    return 0
