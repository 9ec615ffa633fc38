"""The OR-Tools solve of the integer model (``routing.integer``), alone or taking turns with
the searches in front of it (``routing.ils``, ``routing.sisr``), and portfolios of them.

Following the OR-Tools samples: build, then solve with a time limit, then extract into plain
dataclasses. A stop with a ``penalty`` may be dropped (a single-node disjunction priced at the
penalty); a stop without one must be visited, and if that cannot be done the search reports no
solution, so the planners above always give every stop a (possibly huge) penalty.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from google.protobuf import text_format
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from routing import ils, sisr
from routing.integer import FirstSolution, Metaheuristic, Model, Route, Solution, Strategy, Visit

# Counted alternation (see _alternate): turns, and insertion rounds per turn.
ILS_TURNS = 2
ILS_ROUNDS = 600
# Counted ruin-and-recreate rounds (see _ruin_recreate) when the strategy has a solution limit.
SISR_ROUNDS = 20_000


@dataclass(slots=True)
class _Built:
    manager: pywrapcp.RoutingIndexManager
    routing: pywrapcp.RoutingModel
    time: pywrapcp.RoutingDimension
    break_vars: dict[int, list[pywrapcp.IntervalVar]] = field(default_factory=dict)


def _horizon(model: Model) -> int:
    if model.horizon:
        return model.horizon
    return max(vehicle.window[1] for vehicle in model.vehicles)


def _build(model: Model) -> _Built:
    n = len(model.nodes)
    starts = [vehicle.start for vehicle in model.vehicles]
    ends = [vehicle.end for vehicle in model.vehicles]
    manager = pywrapcp.RoutingIndexManager(n, len(model.vehicles), starts, ends)
    routing = pywrapcp.RoutingModel(manager)
    depots = set(starts) | set(ends)

    costs = model.cost if model.cost is not None else model.travel
    cost_cbs = [routing.RegisterTransitMatrix([list(row) for row in m]) for m in costs]
    for v, vehicle in enumerate(model.vehicles):
        routing.SetArcCostEvaluatorOfVehicle(cost_cbs[vehicle.profile], v)
        if vehicle.fixed_cost:
            routing.SetFixedCostOfVehicle(vehicle.fixed_cost, v)
    time = _time_dimension(model, routing)
    _stop_rules(model, manager, routing, time, depots)
    for v, vehicle in enumerate(model.vehicles):
        lo, hi = vehicle.window
        time.CumulVar(routing.Start(v)).SetRange(lo, hi)
        time.CumulVar(routing.End(v)).SetRange(lo, hi)
        # Come back as early as the day allows, then leave as late as that allows: no idle
        # start, and no day pushed to the end of the shift (the finalizer fixes them in this
        # order; the other way round, a day with no windows slid to the afternoon).
        routing.AddVariableMinimizedByFinalizer(time.CumulVar(routing.End(v)))
        routing.AddVariableMaximizedByFinalizer(time.CumulVar(routing.Start(v)))
    _counted(model, routing, depots)
    built = _Built(manager=manager, routing=routing, time=time)
    _breaks(model, built)
    return built


def _time_dimension(model: Model, routing: pywrapcp.RoutingModel) -> pywrapcp.RoutingDimension:
    """The time dimension: each vehicle's profile's travel plus the service where it leaves,
    within the horizon; the span cost on it, if any."""
    horizon = _horizon(model)
    service = [node.service for node in model.nodes]
    time_cbs = [
        routing.RegisterTransitMatrix(
            [[travel + service[i] for travel in row] for i, row in enumerate(m)]
        )
        for m in model.travel
    ]
    routing.AddDimensionWithVehicleTransits(
        [time_cbs[vehicle.profile] for vehicle in model.vehicles], horizon, horizon, False, "time"
    )
    time = routing.GetDimensionOrDie("time")
    if model.span_cost:
        time.SetSpanCostCoefficientForAllVehicles(model.span_cost)
    return time


def _stop_rules(
    model: Model,
    manager: pywrapcp.RoutingIndexManager,
    routing: pywrapcp.RoutingModel,
    time: pywrapcp.RoutingDimension,
    depots: set[int],
) -> None:
    """Each stop's windows (gaps between them removed), the vehicles allowed, and its
    penalty when it may be left out."""
    for i, node in enumerate(model.nodes):
        if i in depots:
            continue
        index = manager.NodeToIndex(i)
        if node.windows:
            lo = min(a for a, _ in node.windows)
            hi = max(b for _, b in node.windows)
            cumul = time.CumulVar(index)
            cumul.SetRange(lo, hi)
            ordered = sorted(node.windows)
            for (_, b), (a, _) in itertools.pairwise(ordered):
                if a > b + 1:
                    cumul.RemoveInterval(b + 1, a - 1)
        if node.vehicles is not None:
            # -1 keeps "unperformed" possible for a droppable stop.
            allowed = list(node.vehicles) if node.penalty is None else [-1, *node.vehicles]
            routing.VehicleVar(index).SetValues(allowed)
        if node.penalty is not None:
            routing.AddDisjunction([index], node.penalty)


def _counted(model: Model, routing: pywrapcp.RoutingModel, depots: set[int]) -> None:
    """The load dimension when a vehicle has a capacity, and the stop count when one has a
    cap or a soft floor."""
    n = len(model.nodes)
    if any(vehicle.capacity is not None for vehicle in model.vehicles):
        demand_cb = routing.RegisterUnaryTransitVector([node.demand for node in model.nodes])
        capacities = [
            vehicle.capacity if vehicle.capacity is not None else sum(n.demand for n in model.nodes)
            for vehicle in model.vehicles
        ]
        routing.AddDimensionWithVehicleCapacity(demand_cb, 0, capacities, True, "load")
    if any(v.max_stops is not None or v.min_stops is not None for v in model.vehicles):
        count = [
            1 if (i not in depots and node.counts_as_stop) else 0
            for i, node in enumerate(model.nodes)
        ]
        count_cb = routing.RegisterUnaryTransitVector(count)
        caps = [
            vehicle.max_stops if vehicle.max_stops is not None else n for vehicle in model.vehicles
        ]
        routing.AddDimensionWithVehicleCapacity(count_cb, 0, caps, True, "stops")
        stops = routing.GetDimensionOrDie("stops")
        for v, vehicle in enumerate(model.vehicles):
            if vehicle.min_stops:
                stops.SetCumulVarSoftLowerBound(
                    routing.End(v), vehicle.min_stops, vehicle.min_stops_penalty
                )


def _breaks(model: Model, built: _Built) -> None:
    """Each vehicle's breaks as interval variables on the time dimension (a visit's service
    is not interrupted)."""
    if not any(vehicle.breaks for vehicle in model.vehicles):
        return
    manager, routing, time = built.manager, built.routing, built.time
    service = [node.service for node in model.nodes]
    solver = routing.solver()
    visit_transit = [0] * routing.Size()
    for index in range(routing.Size()):
        visit_transit[index] = service[manager.IndexToNode(index)]
    for v, vehicle in enumerate(model.vehicles):
        if not vehicle.breaks:
            continue
        intervals = [
            solver.FixedDurationIntervalVar(
                b.earliest, b.latest, b.duration, False, f"break-{v}-{k}"
            )
            for k, b in enumerate(vehicle.breaks)
        ]
        time.SetBreakIntervalsOfVehicle(intervals, v, visit_transit)
        built.break_vars[v] = intervals


def _parameters(strategy: Strategy) -> pywrapcp.DefaultRoutingSearchParameters:
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = getattr(
        routing_enums_pb2.FirstSolutionStrategy, strategy.first_solution.value
    )
    params.local_search_metaheuristic = getattr(
        routing_enums_pb2.LocalSearchMetaheuristic, strategy.metaheuristic.value
    )
    params.time_limit.FromMilliseconds(max(1, int(strategy.time_limit_s * 1000)))
    params.lns_time_limit.FromMilliseconds(max(1, int(strategy.lns_time_limit_s * 1000)))
    if strategy.solution_limit is not None:
        params.solution_limit = strategy.solution_limit
    if strategy.extra:
        text_format.Merge(strategy.extra, params)
    return params


def _extract(model: Model, built: _Built, assignment: pywrapcp.Assignment) -> Solution:
    manager, routing, time = built.manager, built.routing, built.time
    routes = []
    visited: set[int] = set()
    for v in range(len(model.vehicles)):
        travel = model.travel[model.vehicles[v].profile]
        index = routing.Start(v)
        depart = assignment.Min(time.CumulVar(index))
        visits = []
        prev_node = manager.IndexToNode(index)
        prev_leave = depart
        index = assignment.Value(routing.NextVar(index))
        while not routing.IsEnd(index):
            node = manager.IndexToNode(index)
            start = assignment.Min(time.CumulVar(index))
            arrival = prev_leave + travel[prev_node][node]
            visits.append(Visit(node=node, start=start, arrival=min(arrival, start)))
            visited.add(node)
            prev_node, prev_leave = node, start + model.nodes[node].service
            index = assignment.Value(routing.NextVar(index))
        end = assignment.Min(time.CumulVar(index))
        breaks = tuple(
            (assignment.StartMin(interval), assignment.DurationMin(interval))
            for interval in built.break_vars.get(v, [])
            if assignment.PerformedValue(interval)
        )
        routes.append(Route(vehicle=v, depart=depart, visits=tuple(visits), end=end, breaks=breaks))
    depots = {vehicle.start for vehicle in model.vehicles} | {
        vehicle.end for vehicle in model.vehicles
    }
    dropped = tuple(i for i in range(len(model.nodes)) if i not in depots and i not in visited)
    return Solution(routes=tuple(routes), dropped=dropped, objective=assignment.ObjectiveValue())


_STATUS = {
    0: "NOT_SOLVED",
    1: "SUCCESS",
    2: "PARTIAL_SUCCESS_LOCAL_OPTIMUM_NOT_REACHED",
    3: "FAIL",
    4: "FAIL_TIMEOUT",
    5: "INVALID",
    6: "INFEASIBLE",
    7: "OPTIMAL",
}


def solve(
    model: Model,
    strategy: Strategy,
    initial: Sequence[Sequence[int]] | None = None,
) -> Solution | None:
    """One search. ``initial`` (node lists per vehicle) warm-starts it when it is feasible."""
    built = _build(model)
    params = _parameters(strategy)
    routing = built.routing
    if strategy.ils_s > 0 and initial is None and ils.supports(model):
        return _alternate(model, built, strategy)
    if strategy.sisr_s > 0 and initial is None and sisr.supports(model):
        return _ruin_recreate(model, built, strategy)
    assignment = None
    if initial is not None:
        routing.CloseModelWithParameters(params)
        start = routing.ReadAssignmentFromRoutes(
            [[built.manager.NodeToIndex(node) for node in route] for route in initial], True
        )
        if start is not None:
            assignment = routing.SolveFromAssignmentWithParameters(start, params)
    if assignment is None:
        assignment = routing.SolveWithParameters(params)
    if assignment is None:
        return None
    solution = _extract(model, built, assignment)
    return dataclasses.replace(
        solution, strategy=strategy, status=_STATUS.get(routing.status(), str(routing.status()))
    )


def _alternate(model: Model, built: _Built, strategy: Strategy) -> Solution | None:
    """Iterated insertion (routing.ils) and OR-Tools local search, taking turns.

    The insertion search chooses which stops are in the day; OR-Tools' operators re-order
    them (2-opt, relocate, exchange) and free time for more. Each turn starts from the
    other's best. The model is built and closed once; every OR-Tools turn is a warm start."""
    deadline = time.perf_counter() + strategy.time_limit_s
    routing, manager = built.routing, built.manager
    turn = max(0.05, strategy.ils_s)
    params = _parameters(dataclasses.replace(strategy, time_limit_s=turn))
    routing.CloseModelWithParameters(params)
    best: Solution | None = None
    routes: list[list[int]] | None = None
    seed = strategy.seed
    # With a solution budget the turns are counted, not timed: the same input gives the same
    # routes on any machine (the time limit only caps it).
    counted = strategy.solution_limit is not None
    turns = 0
    while True:
        left = deadline - time.perf_counter()
        if left <= 0.01 or (counted and turns >= ILS_TURNS):
            break
        turns += 1
        polish = strategy.polish_s if strategy.polish_s is not None else turn
        routes, value = ils.search(
            model,
            left if counted else max(0.01, min(turn, left - min(polish, left / 2))),
            seed,
            start=routes,
            max_rounds=ILS_ROUNDS if counted else None,
            noise=strategy.ils_noise,
            shake=strategy.ils_shake,
        )
        seed += 1
        if best is None or value < best.objective:
            best = ils.schedule(model, routes, int(value))
        start = routing.ReadAssignmentFromRoutes(
            [[manager.NodeToIndex(node) for node in route] for route in routes], True
        )
        left = deadline - time.perf_counter()
        if start is None or left <= 0.01:
            break
        params.time_limit.FromMilliseconds(
            max(10, int((left if counted else min(polish, left)) * 1000))
        )
        assignment = routing.SolveFromAssignmentWithParameters(start, params)
        if assignment is None:
            continue
        solution = _extract(model, built, assignment)
        # A metaheuristic's answer from a warm start can be worse than the start: keep both.
        if solution.objective < best.objective:
            best = solution
        routes = [[v.node for v in r.visits] for r in best.routes]
    if best is None:
        return None
    return dataclasses.replace(best, strategy=strategy, status="SUCCESS", method="ils")


def _ruin_recreate(model: Model, built: _Built, strategy: Strategy) -> Solution | None:
    """String-removal ruin and recreate (routing.sisr) for ``sisr_s``, then OR-Tools' search
    from its best routes for what is left of the time limit; the better of the two."""
    deadline = time.perf_counter() + strategy.time_limit_s
    counted = strategy.solution_limit is not None
    found = sisr.search(
        model,
        min(strategy.sisr_s, strategy.time_limit_s),
        seed=strategy.seed,
        max_rounds=SISR_ROUNDS if counted else None,
    )
    routing, manager = built.routing, built.manager
    left = deadline - time.perf_counter()
    params = _parameters(dataclasses.replace(strategy, time_limit_s=max(0.01, left)))
    best: Solution | None = None
    start = None
    if found is not None:
        routes, value = found
        best = ils.schedule(model, routes, value)
        routing.CloseModelWithParameters(params)
        start = routing.ReadAssignmentFromRoutes(
            [[manager.NodeToIndex(node) for node in route] for route in routes], True
        )
    if start is None:
        # Some must-visit found no place (the search gave up early, leaving most of the
        # time), or OR-Tools does not accept the routes (its model and this search disagree:
        # never return routes it cannot check). Search from scratch with what is left.
        assignment = routing.SolveWithParameters(params)
        if assignment is None:
            return None
        best = _extract(model, built, assignment)
    elif left > 0.01:
        assignment = routing.SolveFromAssignmentWithParameters(start, params)
        if assignment is not None:
            polished = _extract(model, built, assignment)
            # Equal or better: OR-Tools' schedule also leaves as late as the day allows.
            if best is None or polished.objective <= best.objective:
                best = polished
    assert best is not None
    return dataclasses.replace(
        best, strategy=strategy, status="SUCCESS", method="sisr" if start is not None else ""
    )


def orienteering_portfolio(
    time_limit_s: float, solution_limit: int | None = None
) -> tuple[Strategy, Strategy]:
    """For days of optional stops: two randomised insertion searches with different seeds,
    one taking short turns with OR-Tools' tabu search (0.6 s / 0.1 s), one insertion-heavy
    with a final short polish. Measured on the OPTW instances (docs/routing.md)."""
    tabu = Strategy(
        FirstSolution.PATH_CHEAPEST_ARC,
        Metaheuristic.TABU_SEARCH,
        time_limit_s,
        solution_limit,
        polish_s=min(0.1, time_limit_s / 10),
    )
    return (
        dataclasses.replace(tabu, ils_s=min(0.6, time_limit_s / 3), seed=1),
        dataclasses.replace(tabu, ils_s=time_limit_s, seed=2),
    )


def fleet_portfolio(
    time_limit_s: float, solution_limit: int | None = None
) -> tuple[Strategy, Strategy]:
    """For fleets that must serve every stop: two string-removal searches (routing.sisr)
    with different seeds, each polished by guided local search for the last 5 % of the time.
    Where the model has what that search does not handle (breaks, several windows per stop),
    guided local search alone, from parallel cheapest insertion and from savings. Measured on
    the Solomon instances (docs/routing.md)."""
    sisr_s = 0.95 * time_limit_s
    return (
        Strategy(
            FirstSolution.PARALLEL_CHEAPEST_INSERTION,
            Metaheuristic.GUIDED_LOCAL_SEARCH,
            time_limit_s,
            solution_limit,
            sisr_s=sisr_s,
            seed=1,
        ),
        Strategy(
            FirstSolution.SAVINGS,
            Metaheuristic.GUIDED_LOCAL_SEARCH,
            time_limit_s,
            solution_limit,
            sisr_s=sisr_s,
            seed=2,
        ),
    )


def _solve_job(job: tuple[Model, Strategy, Sequence[Sequence[int]] | None]) -> Solution | None:
    return solve(*job)


def portfolio(
    model: Model,
    strategies: Sequence[Strategy],
    initial: Sequence[Sequence[int]] | None = None,
    pool: ProcessPoolExecutor | None = None,
) -> Solution | None:
    """Run several strategies, in parallel when a pool is given; the best objective wins.

    Ties go to the earlier strategy, so the winner does not depend on which process finished
    first: the portfolio is as deterministic as its members.
    """
    jobs = [(model, strategy, initial) for strategy in strategies]
    if pool is None or len(jobs) == 1:
        results = [_solve_job(job) for job in jobs]
    else:
        results = list(pool.map(_solve_job, jobs))
    best: Solution | None = None
    for result in results:
        if result is None:
            continue
        if best is None or result.objective < best.objective:
            best = result
    return best


def worker_count() -> int:
    return max(1, min(len(os.sched_getaffinity(0)), 4))
