"""The string-removal ruin and recreate: feasible, optimal on tiny fleets, deterministic by
rounds, and what it leaves out is priced right."""

from __future__ import annotations

import itertools
import random
import time

import pytest

from routing import sisr
from routing.core import solve
from routing.integer import Break, FirstSolution, Metaheuristic, Model, Node, Strategy, Vehicle
from tests.routing.test_core import euclid


def random_fleet(
    seed: int, n: int, vehicles: int = 3, capacity: int = 40, close: int = 400
) -> Model:
    """A depot and n - 1 customers with demands and windows (Solomon-like, small)."""
    rnd = random.Random(seed)
    points = [(50, 50)] + [(rnd.randint(0, 100), rnd.randint(0, 100)) for _ in range(n - 1)]
    nodes = [Node()]
    for _ in range(n - 1):
        a = rnd.randint(0, close - 150)
        nodes.append(
            Node(service=5, windows=((a, a + rnd.randint(60, 150)),), demand=rnd.randint(1, 15))
        )
    fleet = tuple(
        Vehicle(start=0, end=0, window=(0, close), capacity=capacity) for _ in range(vehicles)
    )
    return Model(nodes=tuple(nodes), vehicles=fleet, travel=(euclid(points),))


def check(model: Model, routes: list[list[int]]) -> int:
    """Independent check of the routes; returns their objective (arcs, fixed costs, the
    penalties of what is left out). Fails the test on any violation."""
    served: set[int] = set()
    total = 0
    for v, visits in enumerate(routes):
        vehicle = model.vehicles[v]
        travel = model.travel[vehicle.profile]
        t, prev, load = vehicle.window[0], vehicle.start, 0
        for node in visits:
            spec = model.nodes[node]
            assert node not in served, f"node {node} visited twice"
            served.add(node)
            assert spec.vehicles is None or v in spec.vehicles, f"node {node} not allowed on {v}"
            total += travel[prev][node]
            t += travel[prev][node]
            if spec.windows:
                assert t <= spec.windows[0][1], f"node {node} reached at {t}, after its window"
                t = max(t, spec.windows[0][0])
            t += spec.service
            load += spec.demand
            prev = node
        total += travel[prev][vehicle.end]
        assert t + travel[prev][vehicle.end] <= vehicle.window[1], f"route {v} ends late"
        if vehicle.capacity is not None:
            assert load <= vehicle.capacity, f"route {v} carries {load}"
        if vehicle.max_stops is not None:
            assert len(visits) <= vehicle.max_stops
        if visits:
            total += vehicle.fixed_cost
    depots = {v.start for v in model.vehicles} | {v.end for v in model.vehicles}
    for i, node in enumerate(model.nodes):
        if i in depots or i in served:
            continue
        assert node.penalty is not None, f"must-visit {i} left out"
        total += node.penalty
    return total


def brute_force(model: Model) -> int:
    """The least objective over every assignment and order (identical vehicles, all stops
    mandatory): split each permutation into consecutive routes."""
    customers = list(range(1, len(model.nodes)))
    nv = len(model.vehicles)
    best = None
    for perm in itertools.permutations(customers):
        for cuts in itertools.combinations_with_replacement(range(len(perm) + 1), nv - 1):
            bounds = (0, *cuts, len(perm))
            routes = [list(perm[a:b]) for a, b in itertools.pairwise(bounds)]
            try:
                value = check(model, routes)
            except AssertionError:
                continue
            if best is None or value < best:
                best = value
    assert best is not None
    return best


class TestSupports:
    def test_what_it_handles(self) -> None:
        model = random_fleet(1, 8)
        assert sisr.supports(model)
        lunch = Vehicle(start=0, end=0, window=(0, 400), breaks=(Break(50, 80, 20),))
        assert not sisr.supports(Model(model.nodes, (lunch,), model.travel))
        nodes = list(model.nodes)
        nodes[1] = Node(windows=((0, 10), (50, 60)))
        assert not sisr.supports(Model(tuple(nodes), model.vehicles, model.travel))
        assert not sisr.supports(Model(model.nodes, model.vehicles, model.travel, span_cost=1))
        assert not sisr.supports(Model(model.nodes, (), model.travel))


class TestSearch:
    def test_optimal_on_tiny_fleets(self) -> None:
        for seed in range(4):
            model = random_fleet(seed, 7, vehicles=2, capacity=45)
            found = sisr.search(model, 30.0, seed=seed, max_rounds=3000)
            assert found is not None
            routes, value = found
            assert check(model, routes) == value
            assert value == brute_force(model), f"seed {seed}"

    def test_feasible_with_caps_allowed_vehicles_and_fixed_costs(self) -> None:
        model = random_fleet(5, 60, vehicles=8, capacity=60, close=600)
        nodes = list(model.nodes)
        for i in range(1, 60, 7):
            nodes[i] = Node(
                service=nodes[i].service,
                windows=nodes[i].windows,
                demand=nodes[i].demand,
                vehicles=(i % 3,),
            )
        fleet = tuple(
            Vehicle(0, 0, (0, 600), capacity=60, max_stops=12, fixed_cost=30 * (v % 2))
            for v in range(8)
        )
        model = Model(tuple(nodes), fleet, model.travel)
        found = sisr.search(model, 30.0, seed=3, max_rounds=4000)
        assert found is not None
        routes, value = found
        assert check(model, routes) == value
        assert all(not set(r) & {0} for r in routes)

    def test_same_rounds_same_routes(self) -> None:
        model = random_fleet(7, 40, vehicles=12)
        a = sisr.search(model, 30.0, seed=11, max_rounds=3000)
        b = sisr.search(model, 30.0, seed=11, max_rounds=3000)
        assert a is not None and a == b
        c = sisr.search(model, 30.0, seed=12, max_rounds=3000)
        assert c is not None and check(model, c[0]) == c[1]

    def test_a_stop_worth_less_than_its_detour_is_left_out(self) -> None:
        points = [(0, 0), (10, 0), (0, 80), (20, 0)]
        nodes = (Node(), Node(penalty=1000), Node(penalty=50), Node(penalty=1000))
        model = Model(nodes, (Vehicle(0, 0, (0, 1000)),), (euclid(points),))
        found = sisr.search(model, 30.0, max_rounds=200)
        assert found is not None
        routes, value = found
        assert sorted(routes[0]) == [1, 3]  # stop 2: 160 of detour for 50
        assert value == 40 + 50

    def test_a_must_visit_without_a_place_is_no_solution_found_early(self) -> None:
        points = [(0, 0), (10, 0), (500, 0)]
        nodes = (Node(), Node(), Node(windows=((0, 100),)))
        model = Model(nodes, (Vehicle(0, 0, (0, 2000)),), (euclid(points),))
        assert sisr.search(model, 30.0, max_rounds=100) is None
        # It gives up after a fifth of its time (6 s here), leaving the rest to OR-Tools.
        t0 = time.perf_counter()
        assert sisr.search(model, 30.0) is None
        assert time.perf_counter() - t0 < 20


class TestThroughSolve:
    @pytest.mark.parametrize("breaks", [False, True])
    def test_solve_uses_it_where_supported_and_falls_back(self, breaks: bool) -> None:
        model = random_fleet(9, 30, vehicles=8)
        if breaks:
            fleet = tuple(
                Vehicle(0, 0, (0, 400), capacity=40, breaks=(Break(100, 300, 10),))
                for _ in range(8)
            )
            model = Model(model.nodes, fleet, model.travel)
        strategy = Strategy(
            FirstSolution.PARALLEL_CHEAPEST_INSERTION,
            Metaheuristic.GUIDED_LOCAL_SEARCH,
            2.0,
            sisr_s=1.5,
            seed=1,
        )
        solution = solve(model, strategy)
        assert solution is not None and not solution.dropped
        routes = [[v.node for v in r.visits] for r in solution.routes]
        if not breaks:
            assert check(model, routes) == solution.objective
            assert solution.method == "sisr"
            assert solution.label == "SISR+PARALLEL_CHEAPEST_INSERTION+GUIDED_LOCAL_SEARCH"
        else:
            assert solution.method == ""  # breaks: OR-Tools alone
        served = sorted(n for r in routes for n in r)
        assert served == list(range(1, 30))

    def test_no_place_for_a_must_visit_is_no_solution_through_solve(self) -> None:
        points = [(0, 0), (10, 0), (500, 0)]
        nodes = (Node(), Node(), Node(windows=((0, 100),)))
        model = Model(nodes, (Vehicle(0, 0, (0, 2000)),), (euclid(points),))
        strategy = Strategy(
            FirstSolution.PARALLEL_CHEAPEST_INSERTION,
            Metaheuristic.GUIDED_LOCAL_SEARCH,
            0.5,
            sisr_s=0.2,
        )
        assert solve(model, strategy) is None
