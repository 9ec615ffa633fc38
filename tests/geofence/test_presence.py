"""The presence state machine on hand-made tracks with known answers."""

from __future__ import annotations

from geofence.device import DeviceState, EngineConfig, process
from geofence.shapes import CircleFence, near_function
from geofence.types import Event, FenceRule, Fix, Flag, Kind
from tests.geofence.helpers import circle, fix, offset

CFG = EngineConfig()
FENCE = circle(radius_m=100, dwell_s=300, exit_buffer_m=20)
NEAR = near_function([FENCE])


def run(
    points: list[Fix], state: DeviceState | None = None
) -> tuple[list[Event], DeviceState, dict[str, Flag]]:
    st = state or DeviceState()
    res = process("dev", st, [(p, NEAR(p)) for p in sorted(points, key=lambda f: f.order)], CFG)
    return res.events, res.state, res.flags


def kinds(events: list[Event]) -> list[tuple[str, float]]:
    return [
        (e.kind.value, e.t)
        for e in events
        if e.kind not in (Kind.VISIT_STARTED, Kind.VISIT_ENDED) or e.source == "geofence"
    ]


class TestEnter:
    def test_entry_is_by_time_inside_even_well_inside(self) -> None:
        # Walking in (1.7 m/s): one point well inside (by its accuracy) is not yet a stay; a
        # second one 50 s later is, stamped at the first (a car slowing through a fence at a
        # junction is well inside too: on the real traces, 17 entries into the 26 fences cars
        # drove through when one such point was enough).
        events, state, _ = run([fix(1, 0, 150), fix(2, 60, 50, acc=20)])
        assert events == [] and state.inside == []
        events, state, _ = run([fix(3, 110, 45, acc=20)], state)
        assert [(e.kind, e.t) for e in events] == [(Kind.ENTERED, 60)]
        assert state.inside == ["f1"]

    def test_driving_through_is_not_an_entry(self) -> None:
        # 10 m/s straight through a 100 m circle, a point every 15 s (a phone's pace when
        # driving): the one point inside, right at the centre, does not enter on its own.
        pts = [fix(i + 1, 15.0 * i, -300 + 150 * i, acc=8) for i in range(5)]
        events, state, _ = run(pts)
        assert events == [] and state.inside == []

    def test_crawling_through_in_slow_traffic_is_not_an_entry(self) -> None:
        # 2 m/s across a circle of 100 m radius, a fix every second: inside for 100 s (more
        # than twice the time an entry takes), never settled.
        pts = [fix(i + 1, float(i), -330 + 2.0 * i, acc=5) for i in range(331)]
        events, state, _ = run(pts)
        assert events == [] and state.inside == []
        # The same car stopping inside, for a minute: that is a stay, stamped on the way in.
        stop = [fix(500 + i, 166.0 + i, 2, acc=5) for i in range(60)]
        events, state, _ = run(pts[:166] + stop)
        first_inside = next(p.t for p in pts if FENCE.signed_distance_m(p.lat, p.lon) <= 0)
        assert [(e.kind, e.t) for e in events] == [(Kind.ENTERED, first_inside)]

    def test_driving_in_and_stopping_enters_at_the_first_point_inside(self) -> None:
        # In at 10 m/s, then parked: longer than a red light lasts, it is a stay.
        pts = [fix(1, 0, 300), fix(2, 25, 50), fix(3, 55, 45), fix(4, 85, 48)]
        events, state, _ = run(pts)
        assert events == [] and state.inside == []  # as yet: a car waits at lights this long
        events, state, _ = run([fix(5, 115, 46), fix(6, 145, 47)], state)
        assert [(e.kind, e.t) for e in events] == [(Kind.ENTERED, 25)]
        assert state.inside == ["f1"]

    def test_a_car_waiting_at_a_red_light_inside_is_not_an_entry(self) -> None:
        # A fix every second: in at 10 m/s, 90 s standing at the light, then on at 10 m/s.
        pts = [fix(i, float(i), -250 + 10.0 * i) for i in range(20)]  # up to -60 m
        pts += [fix(100 + i, 20.0 + i, -55, acc=5) for i in range(90)]
        pts += [fix(300 + i, 110.0 + i, -45 + 10.0 * i, acc=5) for i in range(40)]
        events, state, _ = run(pts)
        assert events == [] and state.inside == []
        # Walking in and staying as long is an entry at 45 s.
        walk = [fix(500 + i, float(i * 5), -130 + 6.5 * i, acc=5) for i in range(20)]
        walk += [fix(600 + i, 100.0 + i, 0, acc=5) for i in range(90)]
        events, state, _ = run(walk)
        assert [e.kind for e in events] == [Kind.ENTERED]

    def test_a_car_that_stopped_between_sparse_fixes_still_came_by_car(self) -> None:
        # A fix every 27 s: the car covers 90 m at 12 m/s, then waits at the light for 90 s,
        # 20 m from the centre. The straight line says 3.3 m/s (a jog); beyond both fixes'
        # accuracy it is still faster than anyone walks: the wait is not an entry.
        pts = [fix(1, 0, -400, acc=5), fix(2, 27, -110, acc=5)]
        pts += [fix(3 + k, 54.0 + 27 * k, -20, acc=5) for k in range(4)]  # 54 .. 135 s
        pts += [fix(10, 160, 280, acc=5), fix(11, 187, 600, acc=5)]
        events, state, _ = run(pts)
        assert events == [] and state.inside == []
        # Walking in at 1.5 m/s, a fix every 30 s (10 m accurate), and staying as long:
        # an entry at its first point inside.
        walk = [fix(20 + k, 30.0 * k, -185 + 45.0 * k, acc=10) for k in range(4)]  # to -50
        walk += [fix(30 + k, 120.0 + 30 * k, -20, acc=10) for k in range(4)]
        events, state, _ = run(walk)
        assert [(e.kind, e.t) for e in events] == [(Kind.ENTERED, 60.0)]

    def test_inside_without_margin_needs_time(self) -> None:
        # 90 m from the centre: inside a 100 m circle, but not by the 30 m accuracy.
        pts = [fix(1, 0, 90, acc=30), fix(2, 30, 90, acc=30)]
        events, state, _ = run(pts)
        assert events == [] and state.inside == []
        events, state, _ = run([fix(3, 60, 90, acc=30)], state)
        assert [(e.kind, e.t) for e in events] == [(Kind.ENTERED, 0)]

    def test_a_drive_by_never_enters(self) -> None:
        # 5 m/s through the circle, a point every 10 s: four points inside, 30 s in all.
        pts = [fix(i, i * 10, n) for i, n in enumerate(range(-300, 801, 50))]
        events, _, _ = run(pts)
        assert [e.kind for e in events if e.subject == "f1"] == []

    def test_one_fix_a_second_through_three_fences_is_no_entry(self) -> None:
        """A 1 Hz drive at 8 m/s through three 50 m circles 800 m apart: a dozen fixes inside
        each, well inside by their accuracy while moving, and no entry."""
        fences = [
            CircleFence(FenceRule(f"g{k}", 120, 20), *offset(800.0 * k), radius_m=50)
            for k in range(3)
        ]
        near = near_function(fences)
        pts = [fix(i + 1, float(i), -200 + 8.0 * i, acc=5) for i in range(300)]
        res = process("dev", DeviceState(), [(p, near(p)) for p in pts], CFG)
        inside = sum(1 for p in pts if near(p) and min(d for d, _ in near(p).values()) < 0)
        assert inside > 30
        assert [e for e in res.events if e.kind is Kind.ENTERED] == []

    def test_one_fix_a_second_for_six_minutes_is_one_visit(self) -> None:
        pts = [fix(i + 1, float(i), -400 + 8.0 * i, acc=5) for i in range(50)]  # drive in
        pts += [fix(100 + i, 50.0 + i, 0.0, acc=12) for i in range(360)]  # six minutes there
        pts += [fix(1000 + i, 410.0 + i, 8.0 * i, acc=5) for i in range(120)]  # drive off
        events, _, _ = run(pts)
        assert [
            e.kind
            for e in events
            if e.subject == "f1" and e.kind in (Kind.ENTERED, Kind.DWELLED, Kind.EXITED)
        ] == [Kind.ENTERED, Kind.DWELLED, Kind.EXITED]


class TestDwellAndVisit:
    def test_dwell_once_visit_id_carried_and_exit_duration(self) -> None:
        pts = [fix(i, i * 60, 0) for i in range(15)]  # 14 minutes at the centre
        pts += [fix(100 + i, 900 + i * 30, 400) for i in range(4)]  # then 400 m away
        events, state, _ = run(pts)
        fence_events = [e for e in events if e.subject == "f1"]
        assert [e.kind for e in fence_events] == [
            Kind.ENTERED,
            Kind.DWELLED,
            Kind.VISIT_STARTED,
            Kind.EXITED,
            Kind.VISIT_ENDED,
        ]
        assert len({e.visit_id for e in fence_events}) == 1
        entered, dwelled, _, exited, ended = fence_events
        assert dwelled.t == entered.t + 300
        assert exited.t == 900 and exited.data["duration_s"] == 900
        assert ended.data["duration_s"] == 900
        assert state.inside == []


class TestExit:
    def test_exit_needs_a_minimum_time_outside_and_is_stamped_at_the_first_point(self) -> None:
        pts = [fix(1, 0, 0), fix(9, 50, 0), fix(2, 100, 150), fix(3, 130, 150)]
        events, state, _ = run(pts)
        assert [e.kind for e in events] == [Kind.ENTERED]
        events, state, _ = run([fix(4, 170, 150)], state)
        assert [(e.kind, e.t) for e in events] == [(Kind.EXITED, 100)]

    def test_back_inside_before_the_minimum_cancels_the_exit(self) -> None:
        pts = [fix(1, 0, 0), fix(9, 50, 0), fix(2, 100, 150), fix(3, 130, 0), fix(4, 200, 150)]
        pts.append(fix(5, 230, 0))
        events, state, _ = run(pts)
        assert [e.kind for e in events] == [Kind.ENTERED]
        assert state.inside == ["f1"]

    def test_outside_within_the_exit_buffer_is_not_outside(self) -> None:
        # 115 m: outside the 100 m circle, but within its 20 m exit buffer.
        pts = [fix(1, 0, 0), fix(99, 50, 0)] + [fix(i, i * 60, 115, acc=5) for i in range(2, 20)]
        events, _state, _ = run(pts)
        assert [e.kind for e in events if e.kind in (Kind.ENTERED, Kind.EXITED)] == [Kind.ENTERED]

    def test_silent_device_exits_at_its_last_point(self) -> None:
        pts = [fix(1, 0, 0), fix(2, 60, 0)]
        _events, state, _ = run(pts)
        res = process("dev", state, [], CFG, now=60 + CFG.silent_after_s + 1)
        assert [(e.kind, e.t) for e in res.events] == [(Kind.DEVICE_SILENT, 60), (Kind.EXITED, 60)]
        # A point after a long gap exits the same way, with the same event ids.
        events2, _, _ = run([*pts, fix(3, 60 + CFG.silent_after_s + 10, 0)])
        assert {e.id for e in res.events} <= {e.id for e in events2}


class TestFilters:
    def test_flags_keep_points_out_of_presence(self) -> None:
        pts = [
            fix(1, 0, 500),
            fix(2, 10, 0, acc=400),  # low accuracy
            Fix("p000003", 20, 0.0, 0.0, 5.0),  # zero island
            fix(4, 30, 0, mock=True),  # mock location
            fix(5, 40, 500),  # the same time-and-place as nothing: fine
            fix(6, 40, 500),  # same fix time as the last good one: duplicate
            fix(7, 50, 50_000),  # 50 km in 10 s
        ]
        events, state, flags = run(pts)
        assert flags == {
            "p000002": Flag.LOW_ACCURACY,
            "p000003": Flag.ZERO_ISLAND,
            "p000004": Flag.MOCK,
            "p000006": Flag.DUPLICATE,
            "p000007": Flag.SPEED_JUMP,
        }
        # The mock fix is evidence (one signal); one wild fix alone is a flagged point only.
        assert [(e.kind, e.data["reason"]) for e in events] == [
            (Kind.SPOOF_SUSPECTED, "mock_location")
        ]
        assert state.inside == []

    def test_three_consistent_jumps_move_the_device(self) -> None:
        far = [fix(10 + i, 100 + i * 10, 50_000 + i * 50) for i in range(3)]
        _, state, flags = run([fix(1, 0, 0), *far])
        assert set(flags) == {"p000010", "p000011"}
        assert state.last is not None and state.last.client_id == "p000012"


class TestHeldFences:
    """A fence whose rule says `hold` (a customer's door) announces a stay only once it is a
    visit."""

    HELD = circle(radius_m=100, dwell_s=300, exit_buffer_m=20, hold=True)

    def run_held(self, points: list[Fix], fence: CircleFence | None = None) -> list[Event]:
        """The fence's events (not the stop detector's)."""
        near = near_function([fence or self.HELD])
        res = process("dev", DeviceState(), [(p, near(p)) for p in points], CFG)
        return [e for e in res.events if e.subject == "f1"]

    def test_a_stay_shorter_than_the_dwell_makes_no_event(self) -> None:
        # Four minutes next door, then away: nothing, where an open fence enters and exits.
        pts = [fix(i, i * 30, 40) for i in range(9)] + [
            fix(20 + i, 300 + i * 30, 400) for i in range(4)
        ]
        assert self.run_held(pts) == []
        assert [e.kind for e in self.run_held(pts, FENCE)] == [Kind.ENTERED, Kind.EXITED]

    def test_a_visit_makes_the_same_events_an_open_fence_makes(self) -> None:
        pts = [fix(i, i * 60, 0) for i in range(15)]
        pts += [fix(100 + i, 900 + i * 30, 400) for i in range(4)]
        held = self.run_held(pts)
        assert [e.kind for e in held] == [
            Kind.ENTERED,
            Kind.DWELLED,
            Kind.VISIT_STARTED,
            Kind.EXITED,
            Kind.VISIT_ENDED,
        ]
        assert held[0].t == 0  # stamped when it happened, announced with the dwell
        assert held == self.run_held(pts, FENCE)  # same ids, times and data

    @staticmethod
    def neighbours() -> list[CircleFence]:
        """Two customers' 50 m door fences in one building, 25 m apart (north of each other)."""
        lat, lon = offset(25, 0)
        a = circle("a", radius_m=50, dwell_s=120, exit_buffer_m=10, hold=True)
        b = CircleFence(FenceRule("b", 120, 10, True), lat, lon, 50)
        return [a, b]

    def run_neighbours(self, points: list[Fix]) -> list[tuple[str, str, float]]:
        near = near_function(self.neighbours())
        res = process("dev", DeviceState(), [(p, near(p)) for p in points], CFG)
        return [
            (e.kind.value, e.subject, e.t)
            for e in res.events
            if e.subject in ("a", "b") and e.kind is not Kind.DWELLED
        ]

    def test_neighbours_in_one_building_are_one_stay_at_a_time(self) -> None:
        # Walking in past A's door to B's (25 m on), ten minutes there: only B's stay, though
        # the device was inside A's fence all along.
        pts = [fix(i, i * 20, -60 + 20 * i) for i in range(4)]  # the walk in, up to 0 m
        pts += [fix(10 + i, 80 + 20 * i, 25 + (-1) ** i * 4) for i in range(30)]
        pts += [fix(50 + i, 700 + 20 * i, 300) for i in range(5)]  # and away
        got = self.run_neighbours(pts)
        assert [(k, f) for k, f, _ in got] == [
            ("entered", "b"), ("visit_started", "b"), ("exited", "b"), ("visit_ended", "b")
        ], got  # fmt: skip

    def test_moving_next_door_starts_the_neighbours_stay_when_the_first_ends(self) -> None:
        # Ten minutes at B, then ten at A (25 m south): A's stay begins when B's ends.
        pts = [fix(i, i * 20, 25 + (-1) ** i * 3) for i in range(30)]
        pts += [fix(100 + i, 600 + 20 * i, (-1) ** i * 3) for i in range(30)]
        pts += [fix(200 + i, 1200 + 20 * i, -400) for i in range(5)]
        got = self.run_neighbours(pts)
        assert [(k, f) for k, f, _ in got] == [
            ("entered", "b"), ("visit_started", "b"), ("exited", "b"), ("visit_ended", "b"),
            ("entered", "a"), ("visit_started", "a"), ("exited", "a"), ("visit_ended", "a"),
        ], got  # fmt: skip
        b_out = next(t for k, f, t in got if (k, f) == ("exited", "b"))
        a_in = next(t for k, f, t in got if (k, f) == ("entered", "a"))
        assert a_in == b_out and 600 <= b_out <= 700

    def test_a_neighbours_short_stay_after_the_visit_is_nothing(self) -> None:
        # Ten minutes at B, then a minute at A on the way out: no stay at A.
        pts = [fix(i, i * 20, 25 + (-1) ** i * 3) for i in range(30)]
        pts += [fix(100 + i, 600 + 20 * i, 0) for i in range(4)]
        pts += [fix(200 + i, 700 + 20 * i, -400) for i in range(5)]
        got = self.run_neighbours(pts)
        assert {f for _, f, _ in got} == {"b"}, got

    def test_a_device_going_silent_before_the_dwell_makes_no_event(self) -> None:
        near = near_function([self.HELD])
        res = process(
            "dev", DeviceState(), [(p, near(p)) for p in [fix(1, 0, 0), fix(2, 60, 0)]], CFG
        )
        assert [e for e in res.events if e.subject == "f1"] == []
        assert res.state.inside == ["f1"]  # inside all the same, only not announced
        assert res.state.presence.close_all("dev", 60) == []
