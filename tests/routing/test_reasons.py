"""Why a stop was left out (routing/reasons.py): each reason from the model and the routes
that were kept, without a solve."""

from __future__ import annotations

from routing.integer import Model, Node, Route, Solution, Vehicle, Visit
from routing.model import DropReason, Stop, StopKind
from routing.reasons import explain
from routing.travel import GeoPoint

HERE = GeoPoint(37.5665, 126.978)


def model(nodes: list[Node], max_stops: int | None = None) -> Model:
    """Node 0 is the depot; every trip takes 100 s; the shift is [0, 3600]."""
    n = len(nodes) + 1
    travel = tuple(tuple(0 if i == j else 100 for j in range(n)) for i in range(n))
    vehicle = Vehicle(start=0, end=0, window=(0, 3600), max_stops=max_stops)
    return Model((Node(), *nodes), (vehicle,), (travel,), horizon=10_000)


def stop(sid: str, kind: StopKind = StopKind.OPTIONAL, service_s: int = 600) -> Stop:
    return Stop(sid, HERE, service_s, kind)


def reasons(m: Model, stops: dict[int, Stop], kept: list[Visit], dropped: list[int]) -> dict:  # type: ignore[type-arg]
    solution = Solution((Route(0, 0, tuple(kept), 3600),), tuple(dropped), 0)
    return {d.stop_id: d.reason for d in explain(m, stops, solution)}


def test_a_window_outside_the_shift_is_unreachable() -> None:
    m = model([Node(service=600, windows=((5000, 6000),), penalty=1)])
    assert reasons(m, {1: stop("late")}, [], [1]) == {"late": DropReason.UNREACHABLE}


def test_a_prospect_left_out_of_a_full_day_is_lower_priority_a_must_is_no_time() -> None:
    m = model([Node(service=600, penalty=1), Node(service=600, penalty=10**6)])
    stops = {1: stop("prospect"), 2: stop("must", StopKind.MUST)}
    assert reasons(m, stops, [], [1, 2]) == {
        "prospect": DropReason.LOWER_PRIORITY,
        "must": DropReason.NO_TIME,
    }


def test_an_appointment_overlapping_a_kept_one_is_a_conflict() -> None:
    m = model(
        [Node(service=600, windows=((1000, 1000),)), Node(service=600, windows=((1200, 1300),))]
    )
    stops = {1: stop("kept", StopKind.APPOINTMENT), 2: stop("other", StopKind.APPOINTMENT)}
    got = reasons(m, stops, [Visit(1, 1000, 100)], [2])
    assert got == {"other": DropReason.CONFLICT}


def test_a_full_stop_cap_is_named() -> None:
    m = model([Node(service=60, penalty=1), Node(service=60, penalty=1)], max_stops=1)
    stops = {1: stop("a", service_s=60), 2: stop("b", service_s=60)}
    assert reasons(m, stops, [Visit(1, 100, 100)], [2]) == {"b": DropReason.STOP_CAP}
