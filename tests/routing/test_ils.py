"""The iterated insertion search: feasible, optimal on tiny instances, deterministic by rounds."""

from __future__ import annotations

import random

from routing import ils
from routing.core import solve
from routing.integer import Break, FirstSolution, Metaheuristic, Model, Node, Strategy, Vehicle
from tests.routing.test_core import brute_force_orienteering, euclid


def random_orienteering(
    seed: int, n: int, close: int = 200
) -> tuple[Model, list[int], list[tuple[int, int]]]:
    rnd = random.Random(seed)
    points = [(50, 50)] + [(rnd.randint(0, 100), rnd.randint(0, 100)) for _ in range(n - 1)]
    scores = [0] + [rnd.randint(1, 20) for _ in range(n - 1)]
    windows = [(0, close)]
    for _ in range(n - 1):
        a = rnd.randint(0, close - 50)
        windows.append((a, a + rnd.randint(10, 80)))
    per_point = close * n + 1
    nodes = (
        Node(),
        *tuple(Node(windows=(windows[i],), penalty=scores[i] * per_point) for i in range(1, n)),
    )
    model = Model(
        nodes=nodes,
        vehicles=(Vehicle(start=0, end=0, window=(0, close)),),
        travel=(euclid(points),),
    )
    return model, scores, windows


def feasible(model: Model, routes: list[list[int]]) -> bool:
    for v, visits in enumerate(routes):
        vehicle = model.vehicles[v]
        travel = model.travel[vehicle.profile]
        t, prev = vehicle.window[0], vehicle.start
        for node in visits:
            n = model.nodes[node]
            if n.vehicles is not None and v not in n.vehicles:
                return False
            t += travel[prev][node]
            if n.windows:
                if t > n.windows[0][1]:
                    return False
                t = max(t, n.windows[0][0])
            t += n.service
            prev = node
        if t + travel[prev][vehicle.end] > vehicle.window[1]:
            return False
        if vehicle.max_stops is not None and len(visits) > vehicle.max_stops:
            return False
    return True


class TestSupports:
    def test_only_days_of_optional_single_window_stops(self) -> None:
        model, _, _ = random_orienteering(1, 6)
        assert ils.supports(model)
        nodes = list(model.nodes)
        nodes[1] = Node(windows=nodes[1].windows)  # mandatory
        assert not ils.supports(Model(tuple(nodes), model.vehicles, model.travel))
        lunch = Vehicle(start=0, end=0, window=(0, 200), breaks=(Break(50, 80, 20),))
        assert not ils.supports(Model(model.nodes, (lunch,), model.travel))


class TestSearch:
    def test_optimal_and_feasible_on_tiny_instances(self) -> None:
        for seed in range(8):
            model, scores, windows = random_orienteering(seed, 7)
            routes, _ = ils.search(model, 0.2, seed, max_rounds=200)
            assert feasible(model, routes)
            got = sum(scores[n] for n in routes[0])
            assert got == brute_force_orienteering(_points(seed, 7), scores, windows, 200)

    def test_same_rounds_same_routes(self) -> None:
        model, _, _ = random_orienteering(11, 40, close=400)
        first = ils.search(model, 5.0, 3, max_rounds=100)
        second = ils.search(model, 5.0, 3, max_rounds=100)
        assert first == second

    def test_several_routes_allowed_vehicles_and_caps(self) -> None:
        rnd = random.Random(5)
        points = [(50, 50)] + [(rnd.randint(0, 100), rnd.randint(0, 100)) for _ in range(30)]
        nodes = (
            Node(),
            *tuple(
                Node(service=3, penalty=1000, vehicles=(k % 2,) if k % 3 == 0 else None)
                for k in range(1, 31)
            ),
        )
        vehicles = (
            Vehicle(start=0, end=0, window=(0, 250), max_stops=6),
            Vehicle(start=0, end=0, window=(0, 250)),
        )
        model = Model(nodes=nodes, vehicles=vehicles, travel=(euclid(points),))
        routes, value = ils.search(model, 0.3, 0, max_rounds=200)
        assert feasible(model, routes)
        assert len(routes[0]) <= 6
        served = [n for r in routes for n in r]
        assert len(served) == len(set(served))
        assert value == sum(
            euclid(points)[a][b] for r in routes for a, b in zip([0, *r], [*r, 0], strict=False)
        ) + 1000 * (30 - len(served))


class TestAlternation:
    def test_solve_with_ils_turns_is_feasible_and_deterministic(self) -> None:
        model, _scores, _ = random_orienteering(21, 50, close=300)
        strategy = Strategy(
            FirstSolution.PATH_CHEAPEST_ARC,
            Metaheuristic.TABU_SEARCH,
            5.0,
            solution_limit=50,
            ils_s=0.2,
        )
        first = solve(model, strategy)
        second = solve(model, strategy)
        assert first is not None and second is not None
        routes = [[v.node for v in r.visits] for r in first.routes]
        assert feasible(model, routes)
        assert routes == [[v.node for v in r.visits] for r in second.routes]
        assert first.objective == second.objective
        plain = solve(
            model,
            Strategy(FirstSolution.PATH_CHEAPEST_ARC, Metaheuristic.GREEDY_DESCENT, 1.0),
        )
        assert plain is not None
        assert first.objective <= plain.objective


def _points(seed: int, n: int) -> list[tuple[int, int]]:
    rnd = random.Random(seed)
    return [(50, 50)] + [(rnd.randint(0, 100), rnd.randint(0, 100)) for _ in range(n - 1)]
