"""Iterated local search for days made of optional stops (orienteering with time windows).

OR-Tools' local search stalls on orienteering: swapping which stops are in the day takes
several moves through worse solutions. This search works the other way round, after
Vansteenwegen et al. (2009, "Iterated local search for the team orienteering problem with
time windows"): insert the stop with the best ratio of value to the time it adds, as long as
one fits (each check is O(1) with the route's slack, "max shift", and all candidates at all
positions are checked at once with numpy); then shake by removing a run of consecutive
visits, and repeat. It takes turns with OR-Tools (``routing.core``), whose operators
re-order the chosen stops.

It handles what such days have: several routes with their own start, end, shift and travel
profile, one window per stop, allowed vehicles and stop caps. Models with capacities, breaks,
multi-window stops or mandatory stops are left to OR-Tools alone (``supports`` says which).
"""

from __future__ import annotations

import itertools
import random
import time
from dataclasses import dataclass

import numpy as np

from routing.integer import Model, Route, Solution, Visit

# The walk goes back to the best solution after this many rounds without a new best.
RETURN_AFTER = 50


def supports(model: Model) -> bool:
    depots = {v.start for v in model.vehicles} | {v.end for v in model.vehicles}
    for i, node in enumerate(model.nodes):
        if i in depots:
            continue
        if node.penalty is None or len(node.windows) > 1 or node.demand:
            return False
    return not any(v.breaks or v.capacity is not None for v in model.vehicles)


@dataclass(slots=True)
class _Route:
    vehicle: int
    seq: list[int]  # start depot, visits, end depot
    st: np.ndarray  # start of service per position
    arr: np.ndarray  # arrival per position
    slack: np.ndarray  # wait[k] + max_shift[k]: how much position k can be pushed


class _Search:
    def __init__(self, model: Model, seed: int, noise: float = 0.0) -> None:
        self.model = model
        self.noise = noise
        self.rnd = random.Random(seed)
        self.nprnd = np.random.default_rng(seed)
        n = len(model.nodes)
        horizon = max(v.window[1] for v in model.vehicles)
        self.service = np.array([node.service for node in model.nodes], dtype=np.int64)
        self.open = np.array(
            [node.windows[0][0] if node.windows else 0 for node in model.nodes], dtype=np.int64
        )
        self.close = np.array(
            [node.windows[0][1] if node.windows else horizon for node in model.nodes],
            dtype=np.int64,
        )
        self.penalty = np.array([node.penalty or 0 for node in model.nodes], dtype=np.float64)
        self.service_l = self.service.tolist()
        self.open_l = self.open.tolist()
        self.close_l = self.close.tolist()
        self.travel = [np.array(m, dtype=np.int64) for m in model.travel]
        costs = model.cost if model.cost is not None else model.travel
        self.cost = [np.array(m, dtype=np.int64) for m in costs]
        depots = {v.start for v in model.vehicles} | {v.end for v in model.vehicles}
        self.candidates = np.array([i for i in range(n) if i not in depots], dtype=np.int64)
        # allowed[v][j]: may vehicle v serve node j
        self.allowed = np.ones((len(model.vehicles), n), dtype=bool)
        for i, node in enumerate(model.nodes):
            if node.vehicles is not None:
                self.allowed[:, i] = False
                self.allowed[list(node.vehicles), i] = True
        self.visited = np.zeros(n, dtype=bool)
        self.routes = [self._route(v, []) for v in range(len(model.vehicles))]

    # --- route bookkeeping --------------------------------------------------------------
    def _route(self, v: int, visits: list[int]) -> _Route:
        vehicle = self.model.vehicles[v]
        seq = [vehicle.start, *visits, vehicle.end]
        travel = self.model.travel[vehicle.profile]
        service, opens, closes = self.service_l, self.open_l, self.close_l
        size = len(seq)
        arr = [vehicle.window[0]] * size
        st = [vehicle.window[0]] * size
        for k in range(1, size):
            prev = seq[k - 1]
            a = st[k - 1] + service[prev] + travel[prev][seq[k]]
            arr[k] = a
            st[k] = a if k == size - 1 or a >= opens[seq[k]] else opens[seq[k]]
        slack = [0] * size
        max_shift = vehicle.window[1] - st[-1]
        slack[-1] = max_shift
        for k in range(size - 2, 0, -1):
            max_shift = min(closes[seq[k]] - st[k], (st[k + 1] - arr[k + 1]) + max_shift)
            slack[k] = (st[k] - arr[k]) + max_shift
        return _Route(
            vehicle=v,
            seq=seq,
            st=np.array(st, dtype=np.int64),
            arr=np.array(arr, dtype=np.int64),
            slack=np.array(slack, dtype=np.int64),
        )

    def _cost(self, route: _Route) -> int:
        cost = self.model.cost if self.model.cost is not None else self.model.travel
        matrix = cost[self.model.vehicles[route.vehicle].profile]
        seq = route.seq
        return sum(matrix[a][b] for a, b in itertools.pairwise(seq))

    def _value(self) -> float:
        total = float(sum(self._cost(route) for route in self.routes))
        dropped = self.penalty[self.candidates][~self.visited[self.candidates]].sum()
        return total + float(dropped)

    # --- insertion ------------------------------------------------------------------------
    def _insertions(
        self, route: _Route, cands: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """For every candidate at every position: feasible?, added cost, time pushed."""
        vehicle = self.model.vehicles[route.vehicle]
        travel = self.travel[vehicle.profile]
        cost = self.cost[vehicle.profile]
        seq = np.array(route.seq, dtype=np.int64)
        before, after = seq[:-1], seq[1:]
        leave = route.st[:-1] + self.service[before]  # (P,)
        arr = leave[:, None] + travel[np.ix_(before, cands)]  # (P, C)
        start = np.maximum(arr, self.open[cands][None, :])
        shift = start + self.service[cands][None, :] + travel[np.ix_(cands, after)].T
        shift -= route.arr[1:][:, None]
        ok = (arr <= self.close[cands][None, :]) & (shift <= route.slack[1:][:, None])
        if not ok.any():
            return None
        delta = cost[np.ix_(before, cands)] + cost[np.ix_(cands, after)].T
        delta -= cost[before, after][:, None]
        return ok, delta, shift

    def _free(self, vehicle: int) -> np.ndarray:
        free = self.candidates[~self.visited[self.candidates]]
        return free[self.allowed[vehicle, free]]

    def _full(self, route: _Route) -> bool:
        cap = self.model.vehicles[route.vehicle].max_stops
        return cap is not None and len(route.seq) - 2 >= cap

    def _best_insertion(self) -> tuple[float, int, int, int] | None:
        """(ratio, route index, position, node) of the best profitable, feasible insertion."""
        best: tuple[float, int, int, int] | None = None
        for r, route in enumerate(self.routes):
            if self._full(route):
                continue
            cands = self._free(route.vehicle)
            if cands.size == 0:
                continue
            found = self._insertions(route, cands)
            if found is None:
                continue
            ok, delta, shift = found
            profit = self.penalty[cands][None, :] - delta
            ok &= profit > 0
            if not ok.any():
                continue
            ratio = np.where(ok, profit * profit / np.maximum(shift, 1), -1.0)
            if self.noise:
                # Randomised greedy: each candidate's ratio is scaled by a factor drawn from
                # [1 - noise/2, 1 + noise/2], so repeated rounds explore different days.
                ratio = ratio * (1 + self.noise * (self.nprnd.random(ratio.shape) - 0.5))
            flat = int(np.argmax(ratio))
            p, c = divmod(flat, cands.size)
            value = float(ratio[p, c])
            if best is None or value > best[0]:
                best = (value, r, p, int(cands[c]))
        return best

    def insert_all(self) -> None:
        while True:
            found = self._best_insertion()
            if found is None:
                return
            _, r, p, node = found
            route = self.routes[r]
            visits = route.seq[1:-1]
            visits.insert(p, node)
            self.visited[node] = True
            self.routes[r] = self._route(route.vehicle, visits)

    def shake(self, size: int, position: int) -> None:
        for r, route in enumerate(self.routes):
            visits = route.seq[1:-1]
            if not visits:
                continue
            at = position % len(visits)
            removed = visits[at : at + size]
            if at + size > len(visits):  # wrap around, as in the paper
                removed += visits[: at + size - len(visits)]
            keep = [v for v in visits if v not in set(removed)]
            for node in removed:
                self.visited[node] = False
            self.routes[r] = self._route(route.vehicle, keep)

    def load(self, routes: list[list[int]]) -> None:
        self.visited[:] = False
        self.routes = []
        for v, visits in enumerate(routes):
            self.visited[visits] = True
            self.routes.append(self._route(v, list(visits)))

    def solution(self) -> list[list[int]]:
        return [route.seq[1:-1] for route in self.routes]


def schedule(model: Model, routes: list[list[int]], objective: int) -> Solution:
    """A Solution for feasible routes: every visit as early as its window allows."""
    out = []
    visited: set[int] = set()
    for v, visits in enumerate(routes):
        vehicle = model.vehicles[v]
        travel = model.travel[vehicle.profile]
        t, prev, done = vehicle.window[0], vehicle.start, []
        for node in visits:
            arrival = t + travel[prev][node]
            windows = model.nodes[node].windows
            start = max(arrival, windows[0][0]) if windows else arrival
            done.append(Visit(node=node, start=start, arrival=arrival))
            visited.add(node)
            t, prev = start + model.nodes[node].service, node
        end = t + travel[prev][vehicle.end]
        out.append(Route(vehicle=v, depart=vehicle.window[0], visits=tuple(done), end=end))
    depots = {v.start for v in model.vehicles} | {v.end for v in model.vehicles}
    dropped = tuple(i for i in range(len(model.nodes)) if i not in depots and i not in visited)
    return Solution(routes=tuple(out), dropped=dropped, objective=objective)


def search(
    model: Model,
    time_limit_s: float,
    seed: int = 0,
    start: list[list[int]] | None = None,
    max_rounds: int | None = None,
    noise: float = 1.0,
    shake: float = 0.5,
) -> tuple[list[list[int]], float]:
    """Best routes found (node lists without depots, one per vehicle) and their objective.

    ``start`` (feasible routes, e.g. from OR-Tools) is where the walk begins. Each round
    removes a random run of up to ``shake`` of each route's visits and re-inserts by a
    randomised greedy (``noise``: how much the ratios are blurred);
    the walk goes on from there, and back to the best after a while without progress. With
    ``max_rounds`` the result does not depend on the machine's speed (unless the time limit
    comes first)."""
    deadline = time.perf_counter() + time_limit_s
    s = _Search(model, seed, noise)
    if start is not None:
        s.load(start)
    s.insert_all()
    best, best_value = s.solution(), s._value()
    stale = rounds = 0
    while time.perf_counter() < deadline and (max_rounds is None or rounds < max_rounds):
        rounds += 1
        longest = max(1, max(len(r.seq) - 2 for r in s.routes))
        size = s.rnd.randint(1, max(1, int(longest * shake)))
        s.shake(size, s.rnd.randrange(longest))
        s.insert_all()
        value = s._value()
        if value < best_value:
            best, best_value, stale = s.solution(), value, 0
        else:
            stale += 1
            if stale % RETURN_AFTER == 0:
                s.load(best)
    return best, best_value
