"""The integer routing model: what the solvers (``routing.core``'s OR-Tools search,
``routing.ils``, ``routing.sisr``) read and what they answer.

Everything here is an integer: times, distances and penalties are already scaled by whoever
builds the model (``routing.plan`` for agents' days, ``routing.instances`` for the published
benchmarks, each with the scaling its convention needs). Nodes are places to visit; each
vehicle has its own start and end node, which may be the same node. A node with a
``penalty`` may be dropped at that price; one without must be visited.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

Window = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Node:
    """A place in the model. ``windows`` bound the start of service (empty: any time)."""

    service: int = 0
    windows: tuple[Window, ...] = ()
    demand: int = 0
    penalty: int | None = None  # None: must be visited
    vehicles: tuple[int, ...] | None = None  # None: any vehicle may serve it
    counts_as_stop: bool = True


@dataclass(frozen=True, slots=True)
class Break:
    """A break that starts in [earliest, latest] and lasts ``duration`` (e.g. lunch)."""

    earliest: int
    latest: int
    duration: int


@dataclass(frozen=True, slots=True)
class Vehicle:
    start: int
    end: int
    window: Window  # the route leaves start at or after window[0], ends by window[1]
    capacity: int | None = None
    max_stops: int | None = None
    breaks: tuple[Break, ...] = ()
    fixed_cost: int = 0
    profile: int = 0  # which of the model's travel matrices this vehicle moves by
    # Soft minimum of stops: each stop short of it costs ``min_stops_penalty`` (a coaching
    # target such as "six visits a day").
    min_stops: int | None = None
    min_stops_penalty: int = 0


Matrix = tuple[tuple[int, ...], ...]


@dataclass(frozen=True, slots=True)
class Model:
    """Travel matrices are node x node, one per travel profile (walk, car...); they exclude
    service time. The arc cost is the travel time unless ``cost`` is given (one per profile)."""

    nodes: tuple[Node, ...]
    vehicles: tuple[Vehicle, ...]
    travel: tuple[Matrix, ...]
    cost: tuple[Matrix, ...] | None = None
    horizon: int = 0  # latest time anything may happen; 0: derived from the vehicles
    # Cost per unit of a route's span (time from leaving to returning): makes waiting cost
    # something, so routes start late rather than early when nothing is gained by it.
    span_cost: int = 0


class FirstSolution(enum.StrEnum):
    PATH_CHEAPEST_ARC = "PATH_CHEAPEST_ARC"
    PARALLEL_CHEAPEST_INSERTION = "PARALLEL_CHEAPEST_INSERTION"
    LOCAL_CHEAPEST_INSERTION = "LOCAL_CHEAPEST_INSERTION"
    LOCAL_CHEAPEST_COST_INSERTION = "LOCAL_CHEAPEST_COST_INSERTION"
    SEQUENTIAL_CHEAPEST_INSERTION = "SEQUENTIAL_CHEAPEST_INSERTION"
    SAVINGS = "SAVINGS"
    CHRISTOFIDES = "CHRISTOFIDES"
    ALL_UNPERFORMED = "ALL_UNPERFORMED"
    BEST_INSERTION = "BEST_INSERTION"
    AUTOMATIC = "AUTOMATIC"


class Metaheuristic(enum.StrEnum):
    GUIDED_LOCAL_SEARCH = "GUIDED_LOCAL_SEARCH"
    TABU_SEARCH = "TABU_SEARCH"
    GENERIC_TABU_SEARCH = "GENERIC_TABU_SEARCH"
    SIMULATED_ANNEALING = "SIMULATED_ANNEALING"
    GREEDY_DESCENT = "GREEDY_DESCENT"


@dataclass(frozen=True, slots=True)
class Strategy:
    first_solution: FirstSolution
    metaheuristic: Metaheuristic
    time_limit_s: float
    # A deterministic budget: local-search solutions before stopping. With it, the same input
    # gives the same plan whatever the machine's load, as long as the time limit is not hit
    # first. None: search until the time limit (the benchmarks' setting).
    solution_limit: int | None = None
    lns_time_limit_s: float = 0.1
    # Further RoutingSearchParameters in protobuf text format, e.g. operators to enable.
    extra: str = ""
    # Seconds of iterated insertion search (routing.ils) first, when the model suits it; its
    # best routes warm-start OR-Tools for the rest of the time limit.
    ils_s: float = 0.0
    seed: int = 0
    ils_noise: float = 1.0
    ils_shake: float = 0.5
    polish_s: float | None = None  # OR-Tools' turn between insertion turns; None: ils_s
    # Seconds of string-removal ruin and recreate (routing.sisr) first, when the model suits
    # it; OR-Tools' search then starts from its best for the rest of the time limit.
    sisr_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Visit:
    node: int
    start: int  # start of service
    arrival: int  # arrival at the node (start - arrival is waiting)


@dataclass(frozen=True, slots=True)
class Route:
    vehicle: int
    depart: int
    visits: tuple[Visit, ...]
    end: int
    breaks: tuple[tuple[int, int], ...] = ()  # (start, duration)


@dataclass(frozen=True, slots=True)
class Solution:
    routes: tuple[Route, ...]
    dropped: tuple[int, ...]
    objective: int
    strategy: Strategy | None = None
    status: str = "SUCCESS"
    # The search in front of OR-Tools that found it, if any: "ils" or "sisr".
    method: str = ""

    @property
    def served(self) -> int:
        return sum(len(route.visits) for route in self.routes)

    @property
    def label(self) -> str:
        """How it was found, e.g. "SISR+PARALLEL_CHEAPEST_INSERTION+GUIDED_LOCAL_SEARCH"."""
        if self.strategy is None:
            return ""
        name = f"{self.strategy.first_solution.value}+{self.strategy.metaheuristic.value}"
        return f"{self.method.upper()}+{name}" if self.method else name
