"""Agents' days: reasons for what is left out, determinism, re-planning, bad input."""

from __future__ import annotations

import math
import random
import time
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from routing.plan import (
    Agent,
    Area,
    Coaching,
    DropReason,
    Lunch,
    Options,
    Problem,
    ProblemError,
    Stop,
    StopKind,
    plan,
    replan,
)
from routing.travel import GeoPoint, HaversineTravel, TravelMode, haversine_m

KST = timezone(timedelta(hours=9))
DAY = datetime(2026, 11, 25, tzinfo=KST)
HOME = GeoPoint(37.5665, 126.9780)
FAST = Options(time_limit_s=0.5, solution_limit=100, workers=1)


def at(hours: float) -> datetime:
    return DAY + timedelta(hours=hours)


def offset(north_m: float, east_m: float) -> GeoPoint:
    return GeoPoint(
        HOME.lat + north_m / 111_195,
        HOME.lon + east_m / (111_195 * math.cos(math.radians(HOME.lat))),
    )


def agent(**kw: object) -> Agent:
    values: dict[str, object] = {
        "id": "kim",
        "start": HOME,
        "shift_start": at(9),
        "shift_end": at(18),
    }
    values.update(kw)
    return Agent(**values)  # type: ignore[arg-type]


def appointment(stop_id: str, hours: float, where: GeoPoint, minutes: int = 60) -> Stop:
    t = at(hours)
    return Stop(stop_id, where, minutes * 60, StopKind.APPOINTMENT, ((t, t),))


def random_day(seed: int, prospects: int) -> Problem:
    rnd = random.Random(seed)
    stops = [
        appointment(
            f"a{k}", 9.5 + 2 * k, offset(rnd.uniform(-4000, 4000), rnd.uniform(-4000, 4000)), 30
        )
        for k in range(4)
    ]
    stops += [
        Stop(
            f"p{k}",
            offset(rnd.uniform(-5000, 5000), rnd.uniform(-5000, 5000)),
            1200,
            score=rnd.randint(1, 100),
        )
        for k in range(prospects)
    ]
    return Problem((agent(),), tuple(stops))


class TestPlan:
    def test_appointments_kept_at_their_time_and_prospects_fill_the_gaps(self) -> None:
        result = plan(random_day(1, 30), FAST)
        day = result.agents[0]
        starts = {s.stop_id: s.start for s in day.stops}
        for k in range(4):
            assert starts[f"a{k}"] == at(9.5 + 2 * k)
        assert any(s.kind is StopKind.OPTIONAL for s in day.stops)
        assert day.depart >= at(9)
        assert day.arrive <= at(18)
        for prev, nxt in zip(day.stops, day.stops[1:], strict=False):
            assert prev.departure + timedelta(seconds=nxt.travel_s) <= nxt.start
        kept = {s.stop_id for s in day.stops}
        dropped = {d.stop_id for d in result.dropped}
        assert kept | dropped == {f"a{k}" for k in range(4)} | {f"p{k}" for k in range(30)}
        assert not kept & dropped

    def test_over_full_day_gives_a_reason_for_every_dropped_stop(self) -> None:
        far = offset(0, 60_000)  # an hour's drive away: unreachable at 09:05
        stops = (
            appointment("a1", 10, offset(500, 0)),
            appointment("a2", 10.5, offset(0, 800)),  # overlaps a1
            appointment("a3", 9 + 5 / 60, far),
            Stop("late", offset(300, 300), 1800, StopKind.MUST, ((at(19), at(20)),)),
            Stop("avoid", offset(-200, 0), 600, score=90),
            Stop("elsewhere", offset(100, 100), 600, score=90, agents=("lee",)),
            *(Stop(f"p{k}", offset(100 * k, -100 * k), 3600, score=1) for k in range(12)),
        )
        coaching = Coaching(avoid=(Area(offset(-200, 0), 150),))
        result = plan(Problem((agent(),), stops, coaching), FAST)
        reasons = {d.stop_id: d.reason for d in result.dropped}
        kept = {s.stop_id for s in result.agents[0].stops}
        assert "a1" in kept or "a2" in kept
        loser = "a2" if "a1" in kept else "a1"
        assert reasons[loser] is DropReason.CONFLICT
        assert reasons["a3"] is DropReason.UNREACHABLE
        assert reasons["late"] is DropReason.UNREACHABLE
        assert reasons["avoid"] is DropReason.AVOIDED_AREA
        assert reasons["elsewhere"] is DropReason.NOT_ALLOWED
        assert any(reasons.get(f"p{k}") is DropReason.LOWER_PRIORITY for k in range(12))
        assert all(d.detail for d in result.dropped)
        assert len(kept) + len(reasons) == len(stops)

    def test_lunch_is_planned_inside_its_window_and_no_visit_overlaps_it(self) -> None:
        problem = random_day(2, 25)
        lunch = Lunch(at(12), at(13.5), 3600)
        result = plan(Problem((agent(lunch=lunch),), problem.stops), FAST)
        day = result.agents[0]
        assert day.lunch is not None
        start, end = day.lunch
        assert at(12) <= start <= at(13.5)
        assert end - start == timedelta(hours=1)
        for s in day.stops:
            assert s.departure <= start or s.start >= end

    def test_stop_cap_and_focus_segment(self) -> None:
        stops = tuple(
            Stop(
                f"p{k}", offset(200 * k, 0), 600, score=10, segment="young" if k % 2 else "retired"
            )
            for k in range(10)
        )
        coaching = Coaching(focus_segment="young", focus_factor=5)
        result = plan(Problem((agent(max_stops=3),), stops, coaching), FAST)
        kept = result.agents[0].stops
        assert len(kept) == 3
        assert all(int(s.stop_id[1:]) % 2 == 1 for s in kept)
        assert any(d.reason is DropReason.STOP_CAP for d in result.dropped)

    def test_same_input_gives_the_same_plan(self) -> None:
        # The promise holds when the solution budget ends the search, not the clock: with
        # FAST's half second a loaded machine (a CI run) could stop one run earlier than the
        # other. A time limit far beyond what 100 solutions take leaves only the budget.
        budget = Options(time_limit_s=30, solution_limit=100, workers=1)
        problem = random_day(5, 40)
        t0 = time.perf_counter()
        first = plan(problem, budget)
        assert time.perf_counter() - t0 < 30  # the budget, not the clock, ended it
        second = plan(problem, budget)
        assert [s.stop_id for s in first.agents[0].stops] == [
            s.stop_id for s in second.agents[0].stops
        ]
        assert first.objective == second.objective

    def test_team_plan_respects_territories(self) -> None:
        west = tuple(
            Stop(f"w{k}", offset(0, -1000 * k), 900, score=20, agents=("kim",)) for k in range(1, 6)
        )
        east = tuple(
            Stop(f"e{k}", offset(0, 1000 * k), 900, score=100, agents=("lee",)) for k in range(1, 6)
        )
        team = (agent(), agent(id="lee", mode=TravelMode.WALK))
        result = plan(Problem(team, west + east), FAST)
        by_agent = {p.agent_id: {s.stop_id[0] for s in p.stops} for p in result.agents}
        assert by_agent["kim"] <= {"w"}
        assert by_agent["lee"] <= {"e"}
        assert by_agent["kim"] and by_agent["lee"]


class TestReplan:
    def test_keeps_done_stops_out_and_starts_here_and_now(self) -> None:
        problem = random_day(3, 30)
        first = plan(problem, FAST)
        order = [s.stop_id for s in first.agents[0].stops]
        done = order[:2]
        cancelled = next(s for s in order[2:] if s.startswith("p"))
        here = offset(1000, 1000)
        now = at(12.2)
        stops = tuple(s for s in problem.stops if s.id != cancelled)
        result = replan(
            Problem(problem.agents, stops), "kim", here, now, order, done=done, options=FAST
        )
        day = result.agents[0]
        ids = [s.stop_id for s in day.stops]
        assert not set(done) & set(ids)
        assert cancelled not in ids
        assert day.depart >= now
        assert day.path[0] == here
        assert all(s.start >= now for s in day.stops)
        # Appointments still ahead keep their time.
        for s in day.stops:
            if s.kind is StopKind.APPOINTMENT:
                assert s.start == next(st.windows[0][0] for st in stops if st.id == s.stop_id)

    def test_a_stop_longer_than_what_is_left_of_the_shift_is_dropped_not_an_error(
        self,
    ) -> None:
        # Half an hour before the shift ends: a 45-minute visit cannot fit any more, a
        # 20-minute one can. The day was valid; only the hour is late.
        problem = Problem(
            (agent(),),
            (
                Stop("long", offset(300, 0), 45 * 60, score=50),
                Stop("short", offset(0, 300), 20 * 60, score=10),
            ),
        )
        result = replan(problem, "kim", HOME, at(17.5), ["long", "short"], options=FAST)
        assert [s.stop_id for s in result.agents[0].stops] == ["short"]
        assert [(d.stop_id, d.reason) for d in result.dropped] == [("long", DropReason.NO_TIME)]
        # A stop that never fit the shift is still bad input.
        never = Problem((agent(),), (Stop("ten hours", HOME, 10 * 3600),))
        with pytest.raises(ProblemError) as err:
            replan(never, "kim", HOME, at(12), [])
        assert err.value.field == "stops[0].service_s"

    def test_after_the_shift_is_bad_input(self) -> None:
        with pytest.raises(ProblemError) as err:
            replan(random_day(3, 3), "kim", HOME, at(19), [])
        assert err.value.field == "now"


class TestBadInput:
    @pytest.mark.parametrize(
        ("problem", "field"),
        [
            (Problem((agent(shift_end=at(8)),), ()), "agents[0].shift_end"),
            (Problem((agent(),), (Stop("x", HOME, 3600 * 10),)), "stops[0].service_s"),
            (
                Problem((agent(),), (Stop("x", HOME, 60, windows=((at(11), at(10)),)),)),
                "stops[0].windows[0]",
            ),
            (Problem((agent(),), (Stop("x", HOME, 60, StopKind.APPOINTMENT),)), "stops[0].windows"),
            (Problem((), ()), "agents"),
            (Problem((agent(),), (Stop("x", HOME, 60), Stop("x", HOME, 60))), "stops[1].id"),
        ],
    )
    def test_named_field(self, problem: Problem, field: str) -> None:
        with pytest.raises(ProblemError) as err:
            plan(problem, FAST)
        assert err.value.field == field


class TestTravel:
    def test_matrix_scales_with_distance_and_mode(self) -> None:
        travel = HaversineTravel()
        points = [HOME, offset(0, 1000), offset(0, 5000)]
        car = travel.matrix(points, TravelMode.CAR, at(10), at(16))
        walk = travel.matrix(points, TravelMode.WALK, at(10), at(16))
        assert car.seconds[0][0] == 0
        assert abs(haversine_m(HOME, points[2]) - 5000) < 5
        assert car.metres[0][2] > 5000  # detour
        assert walk.seconds[0][2] > car.seconds[0][2]
        assert car.seconds[0][2] > car.seconds[0][1]
        rush = travel.matrix(points, TravelMode.CAR, at(7), at(9))
        assert rush.seconds[0][2] > car.seconds[0][2]

    def test_seconds_from_many_origins_matches_legs(self) -> None:
        travel = HaversineTravel()
        origins = [HOME, offset(3000, -2000)]
        places = [HOME, offset(0, 30), offset(0, 1000), offset(-4000, 2500)]
        lat = np.array([p.lat for p in places])
        lon = np.array([p.lon for p in places])
        got = travel.seconds_from(origins, lat, lon, TravelMode.CAR, at(7), at(9))
        assert got.shape == (2, 4)
        for i, origin in enumerate(origins):
            legs = travel.legs([origin] * 4, places, TravelMode.CAR, at(7), at(9))
            assert got[i].tolist() == legs
        assert got[0][0] == 0 and 0 < got[0][1] < got[0][2] < got[0][3]
