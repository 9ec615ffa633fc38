"""The integer model against answers worked out independently (by hand or brute force)."""

from __future__ import annotations

import itertools
import math
import random

from routing.core import solve
from routing.integer import FirstSolution, Metaheuristic, Model, Node, Strategy, Vehicle

STRATEGY = Strategy(FirstSolution.PATH_CHEAPEST_ARC, Metaheuristic.TABU_SEARCH, 0.3, 2000)


def euclid(points: list[tuple[int, int]]) -> tuple[tuple[int, ...], ...]:
    return tuple(
        tuple(math.floor(math.hypot(ax - bx, ay - by)) for bx, by in points) for ax, ay in points
    )


class TestTinyTsp:
    def test_square_is_toured_around_its_edge(self) -> None:
        # Depot at a corner of a 10 x 10 square: the optimum goes round the edge (40), never
        # across a diagonal (14 per crossing).
        points = [(0, 0), (10, 0), (10, 10), (0, 10)]
        nodes = (Node(), Node(), Node(), Node())
        model = Model(
            nodes=nodes,
            vehicles=(Vehicle(start=0, end=0, window=(0, 1000)),),
            travel=(euclid(points),),
        )
        solution = solve(model, STRATEGY)
        assert solution is not None
        order = [v.node for v in solution.routes[0].visits]
        assert order in ([1, 2, 3], [3, 2, 1])
        assert solution.objective == 40

    def test_time_windows_force_the_long_way(self) -> None:
        # Node 3 must be served first (window [0, 12]) although it is the far corner of the
        # natural tour; service 0; the best route then is 0-3-2-1-0 = 40 or with waiting.
        points = [(0, 0), (10, 0), (10, 10), (0, 10)]
        nodes = (Node(), Node(windows=((30, 40),)), Node(), Node(windows=((0, 12),)))
        model = Model(
            nodes=nodes,
            vehicles=(Vehicle(start=0, end=0, window=(0, 1000)),),
            travel=(euclid(points),),
        )
        solution = solve(model, STRATEGY)
        assert solution is not None
        visits = solution.routes[0].visits
        assert [v.node for v in visits] == [3, 2, 1]
        # Leaving late is free, so the first visit starts anywhere from arrival (10) to 12.
        assert 10 <= visits[0].start <= 12
        assert 30 <= visits[2].start <= 40
        assert solution.objective == 40


def brute_force_orienteering(
    points: list[tuple[int, int]], scores: list[int], windows: list[tuple[int, int]], close: int
) -> int:
    travel = euclid(points)
    best = 0
    n = len(points)
    for k in range(1, n):
        for order in itertools.permutations(range(1, n), k):
            t, prev, ok = 0, 0, True
            for node in order:
                t = max(t + travel[prev][node], windows[node][0])
                if t > windows[node][1]:
                    ok = False
                    break
                prev = node
            if ok and t + travel[prev][0] <= close:
                best = max(best, sum(scores[i] for i in order))
    return best


class TestOrienteering:
    def test_matches_brute_force_on_random_small_instances(self) -> None:
        rnd = random.Random(42)
        for _ in range(8):
            n = 7
            points = [(50, 50)] + [(rnd.randint(0, 100), rnd.randint(0, 100)) for _ in range(n - 1)]
            scores = [0] + [rnd.randint(1, 20) for _ in range(n - 1)]
            windows = [(0, 200)]
            for _ in range(n - 1):
                a = rnd.randint(0, 150)
                windows.append((a, a + rnd.randint(10, 80)))
            close = 200
            per_point = close * n + 1
            nodes = (
                Node(),
                *tuple(
                    Node(windows=(windows[i],), penalty=scores[i] * per_point) for i in range(1, n)
                ),
            )
            model = Model(
                nodes=nodes,
                vehicles=(Vehicle(start=0, end=0, window=(0, close)),),
                travel=(euclid(points),),
            )
            solution = solve(model, STRATEGY)
            assert solution is not None
            got = sum(scores[v.node] for v in solution.routes[0].visits)
            assert got == brute_force_orienteering(points, scores, windows, close)

    def test_every_visit_respects_its_window_and_the_close(self) -> None:
        rnd = random.Random(3)
        points = [(50, 50)] + [(rnd.randint(0, 100), rnd.randint(0, 100)) for _ in range(30)]
        windows = [(0, 300)] + [(a, a + 40) for a in (rnd.randint(0, 250) for _ in range(30))]
        nodes = (
            Node(),
            *tuple(Node(service=5, windows=(windows[i],), penalty=10000) for i in range(1, 31)),
        )
        model = Model(
            nodes=nodes,
            vehicles=(Vehicle(start=0, end=0, window=(0, 300)),),
            travel=(euclid(points),),
        )
        solution = solve(model, STRATEGY)
        assert solution is not None
        route = solution.routes[0]
        assert route.visits
        for visit in route.visits:
            a, b = windows[visit.node]
            assert a <= visit.start <= b
            assert visit.arrival <= visit.start
        assert route.end <= 300
        assert len(route.visits) + len(solution.dropped) == 30


class TestCapacityAndFleet:
    def test_capacity_splits_the_customers_over_two_vehicles(self) -> None:
        points = [(0, 0), (10, 0), (11, 0), (-10, 0), (-11, 0)]
        nodes = (Node(), *tuple(Node(demand=5) for _ in range(4)))
        vehicle = Vehicle(start=0, end=0, window=(0, 1000), capacity=10)
        model = Model(nodes=nodes, vehicles=(vehicle, vehicle), travel=(euclid(points),))
        solution = solve(model, STRATEGY)
        assert solution is not None
        groups = sorted(sorted(v.node for v in r.visits) for r in solution.routes)
        assert groups == [[1, 2], [3, 4]]
        assert solution.objective == 44

    def test_warm_start_from_given_routes(self) -> None:
        points = [(0, 0), (10, 0), (10, 10), (0, 10)]
        model = Model(
            nodes=(Node(), Node(), Node(), Node()),
            vehicles=(Vehicle(start=0, end=0, window=(0, 1000)),),
            travel=(euclid(points),),
        )
        solution = solve(model, STRATEGY, initial=[[2, 1, 3]])
        assert solution is not None
        assert solution.objective == 40
