"""Ruin and recreate with string removals, for fleets that must serve (nearly) everyone.

OR-Tools' guided local search stalls on vehicle routing with tight time windows: moving a
customer to a better route usually needs several others to move first. This search works
the other way round, after Christiaens and Vanden Berghe (2020, "Slack induction by string
removals for vehicle routing problems", SISR): remove a few strings of consecutive visits
from routes near a random customer, put every removed customer back at its cheapest feasible
place (in one of four orders, skipping a place now and then: "blinks"), and accept the result
by simulated annealing. Each round costs microseconds, so a few seconds make hundreds of
thousands of rounds: the loop is compiled with numba.

Feasibility checks are O(1) per place: each route keeps, per position, the earliest start of
service (forward) and the latest start that keeps the rest of the route in its windows
(backward). It handles several vehicles with their own start, end, shift, capacity, stop cap,
fixed cost and travel profile; one window per stop; vehicles allowed per stop; optional stops
priced by their penalty (left out when no place costs less). Breaks, several windows per
stop, soft stop targets and span costs are left to OR-Tools (``supports`` says which).
"""

from __future__ import annotations

import math
import time

import numpy as np
from numba import njit

from routing.integer import Model
from routing.sisr_arrays import Problem, State, copy, empty_state, problem

# The cost of a must-visit left without a place: more than any real objective, and a
# million of them still fit in an int64.
UNPLACED = 1 << 40
# Consecutive rounds per compiled call: long enough that Python's share is negligible, short
# enough to follow the clock and the temperature schedule.
CHUNK = 2000
# The share of the search after which, if some must-visit still has no place, it gives up.
GIVE_UP = 0.2


def supports(model: Model) -> bool:
    if model.span_cost or not model.vehicles:
        return False
    if any(v.breaks or v.min_stops for v in model.vehicles):
        return False
    depots = {v.start for v in model.vehicles} | {v.end for v in model.vehicles}
    return all(len(node.windows) <= 1 for i, node in enumerate(model.nodes) if i not in depots)


@njit(cache=True)
def _seed(seed: int) -> None:
    np.random.seed(seed)


@njit(cache=True)
def _refresh(prob: Problem, state: State, v: int) -> bool:
    """Times, slack and cost of route v; False when a visit misses its window (possible
    after a removal only where the matrix breaks the triangle inequality)."""
    travel, cost, service, ready, due = prob.travel, prob.cost, prob.service, prob.ready, prob.due
    vopen, vclose, vprof, vfixed = prob.vopen, prob.vclose, prob.vprof, prob.vfixed
    seq, ln, st, lt, rc = state.seq, state.ln, state.st, state.lt, state.rc
    p = vprof[v]
    size = ln[v]
    st[v, 0] = vopen[v]
    total = 0
    ok = True
    for k in range(1, size):
        a = seq[v, k - 1]
        b = seq[v, k]
        t = st[v, k - 1] + service[a] + travel[p, a, b]
        total += cost[p, a, b]
        if k < size - 1:
            if t < ready[b]:
                t = ready[b]
            if t > due[b]:
                ok = False
        st[v, k] = t
    if st[v, size - 1] > vclose[v]:
        ok = False
    lt[v, size - 1] = vclose[v]
    for k in range(size - 2, 0, -1):
        a = seq[v, k]
        b = seq[v, k + 1]
        latest = lt[v, k + 1] - service[a] - travel[p, a, b]
        lt[v, k] = latest if latest < due[a] else due[a]
    lt[v, 0] = vclose[v]
    if size > 2:
        total += vfixed[v]
    rc[v] = total
    return ok


@njit(cache=True)
def _ruin(
    prob: Problem,
    state: State,
    cbar: float,
    lmax: int,
    keep_p: float,
    removed: np.ndarray,
    touched: np.ndarray,
) -> int:
    demand, stopw, customers, adj = prob.demand, prob.stopw, prob.customers, prob.adj
    seq, ln, load, nst, where = state.seq, state.ln, state.load, state.nst, state.where
    nv = ln.shape[0]
    tot = 0
    used = 0
    for v in range(nv):
        if ln[v] > 2:
            tot += ln[v] - 2
            used += 1
    if used == 0:
        return 0
    lsmax = min(float(lmax), tot / used)
    ksmax = 4.0 * cbar / (1.0 + lsmax) - 1.0
    ks = int(np.random.random() * ksmax) + 1
    seed = customers[np.random.randint(customers.shape[0])]
    count = 0
    ruined = 0
    flag = np.zeros(seq.shape[1], dtype=np.bool_)
    for j in range(adj.shape[1]):
        if ruined >= ks:
            break
        c = adj[seed, j]
        v = where[c]
        if v < 0 or touched[v]:
            continue
        card = ln[v] - 2
        lt_max = min(float(card), lsmax)
        size = min(int(np.random.random() * lt_max) + 1, card)
        pos = 1
        while seq[v, pos] != c:
            pos += 1
        for k in range(ln[v]):
            flag[k] = False
        if size < card and np.random.random() < 0.5:
            # A split string: `size` removed from a string of size + kept, a run of `kept`
            # consecutive visits inside it staying.
            kept = 1
            while size + kept < card and np.random.random() < keep_p:
                kept += 1
            span = size + kept
            lo = max(1, pos - span + 1)
            hi = min(pos, card - span + 1)
            s = lo + np.random.randint(hi - lo + 1)
            r = np.random.randint(size + 1)
            for k in range(s, s + span):
                if k < s + r or k >= s + r + kept:
                    flag[k] = True
        else:
            lo = max(1, pos - size + 1)
            hi = min(pos, card - size + 1)
            s = lo + np.random.randint(hi - lo + 1)
            for k in range(s, s + size):
                flag[k] = True
        w = 0
        for k in range(ln[v]):
            node = seq[v, k]
            if flag[k]:
                removed[count] = node
                count += 1
                where[node] = -1
                load[v] -= demand[node]
                nst[v] -= stopw[node]
            else:
                seq[v, w] = node
                w += 1
        ln[v] = w
        touched[v] = True
        ruined += 1
    return count


@njit(cache=True)
def _order(prob: Problem, removed: np.ndarray, count: int) -> np.ndarray:
    """The order to put the removed back in, drawn among four: at random, largest demand
    first, farthest first, nearest first (ties broken at random)."""
    demand, far = prob.demand, prob.far
    keys = np.empty(count, dtype=np.float64)
    pick = np.random.random() * 11.0
    for i in range(count):
        c = removed[i]
        jitter = np.random.random()
        if pick < 4.0:
            keys[i] = jitter
        elif pick < 8.0:
            keys[i] = -demand[c] - jitter * 0.5
        elif pick < 10.0:
            keys[i] = -far[c] - jitter * 0.5
        else:
            keys[i] = far[c] + jitter * 0.5
    return np.argsort(keys)


@njit(cache=True)
def _cheapest_place(
    prob: Problem, state: State, c: int, blink: float, tried: np.ndarray
) -> tuple[np.int64, int, int]:
    """Customer c's cheapest feasible place (added cost, vehicle, position after which),
    each place skipped with probability `blink`; vehicle -1: none. Of empty routes, one of
    each kind is tried (`tried`: scratch, one flag per kind)."""
    travel, cost, service, ready, due = prob.travel, prob.cost, prob.service, prob.ready, prob.due
    demand, stopw, allowed = prob.demand, prob.stopw, prob.allowed
    vcap, vprof, vfixed, vmax, vkind = prob.vcap, prob.vprof, prob.vfixed, prob.vmax, prob.vkind
    seq, ln, load, nst, st, lt = state.seq, state.ln, state.load, state.nst, state.st, state.lt
    nv = ln.shape[0]
    best = np.int64(1) << 62
    bv = -1
    bk = -1
    for k in range(nv):
        tried[vkind[k]] = False
    for v in range(nv):
        if not allowed[c, v] or load[v] + demand[c] > vcap[v] or nst[v] + stopw[c] > vmax[v]:
            continue
        size = ln[v]
        if size == 2:
            if tried[vkind[v]]:
                continue
            tried[vkind[v]] = True
        p = vprof[v]
        for k in range(size - 1):
            if np.random.random() < blink:
                continue
            a = seq[v, k]
            b = seq[v, k + 1]
            t = st[v, k] + service[a] + travel[p, a, c]
            if t > due[c]:
                continue
            if t < ready[c]:
                t = ready[c]
            if t + service[c] + travel[p, c, b] > lt[v, k + 1]:
                continue
            d = cost[p, a, c] + cost[p, c, b] - cost[p, a, b]
            if size == 2:
                d += vfixed[v]
            if d < best:
                best = d
                bv = v
                bk = k
    return best, bv, bk


@njit(cache=True)
def _recreate(
    prob: Problem,
    state: State,
    removed: np.ndarray,
    count: int,
    blink: float,
    touched: np.ndarray,
) -> int:
    """Put each removed customer back at its cheapest place; returns the penalty of those
    left out."""
    demand, penalty, stopw = prob.demand, prob.penalty, prob.stopw
    seq, ln, load, nst, where = state.seq, state.ln, state.load, state.nst, state.where
    order = _order(prob, removed, count)
    tried = np.zeros(ln.shape[0], dtype=np.bool_)
    left = 0
    for i in range(count):
        c = removed[order[i]]
        best, bv, bk = _cheapest_place(prob, state, c, blink, tried)
        if bv < 0 or (penalty[c] >= 0 and best >= penalty[c]):
            left += UNPLACED if penalty[c] < 0 else penalty[c]
            continue
        for k in range(ln[bv], bk + 1, -1):
            seq[bv, k] = seq[bv, k - 1]
        seq[bv, bk + 1] = c
        ln[bv] += 1
        load[bv] += demand[c]
        nst[bv] += stopw[c]
        where[c] = bv
        touched[bv] = True
        _refresh(prob, state, bv)
    return left


@njit(cache=True)
def _copy_routes(src: State, dst: State, touched: np.ndarray) -> None:
    for v in range(touched.shape[0]):
        if not touched[v]:
            continue
        size = src.ln[v]
        for k in range(size):
            dst.seq[v, k] = src.seq[v, k]
            dst.st[v, k] = src.st[v, k]
            dst.lt[v, k] = src.lt[v, k]
        dst.ln[v] = size
        dst.load[v] = src.load[v]
        dst.nst[v] = src.nst[v]
        dst.rc[v] = src.rc[v]
    dst.where[:] = src.where[:]


@njit(cache=True)
def _rounds(
    prob: Problem,
    cur: State,
    cand: State,
    best: State,
    costs: np.ndarray,
    rounds: int,
    t0: float,
    t1: float,
    cbar: float,
    lmax: int,
    keep_p: float,
    blink: float,
) -> None:
    """`rounds` rounds of ruin, recreate and annealing acceptance, the temperature going from
    t0 to t1. costs: [current, best, left-out penalty of current, of best]."""
    nv = cur.ln.shape[0]
    removed = np.empty(cur.where.shape[0], dtype=np.int64)
    touched = np.zeros(nv, dtype=np.bool_)
    everyone = np.ones(nv, dtype=np.bool_)
    customers = prob.customers
    ratio = t1 / t0
    for it in range(rounds):
        temp = t0 * ratio ** (it / rounds)
        touched[:] = False
        count = _ruin(prob, cand, cbar, lmax, keep_p, removed, touched)
        # Customers left out before (optional ones priced out) get another chance.
        for c in customers:
            if cand.where[c] < 0:
                seen = False
                for i in range(count):
                    if removed[i] == c:
                        seen = True
                        break
                if not seen:
                    removed[count] = c
                    count += 1
        ok = True
        for v in range(nv):
            if touched[v] and not _refresh(prob, cand, v):
                ok = False
        if not ok:
            _copy_routes(cur, cand, touched)
            continue
        left = _recreate(prob, cand, removed, count, blink, touched)
        value = left
        for v in range(nv):
            value += cand.rc[v]
        if value < costs[0] - temp * math.log(np.random.random()):
            _copy_routes(cand, cur, touched)
            costs[0] = value
            costs[2] = left
            if value < costs[1]:
                _copy_routes(cand, best, everyone)
                costs[1] = value
                costs[3] = left
        else:
            _copy_routes(cur, cand, touched)


def search(
    model: Model,
    time_limit_s: float,
    seed: int = 0,
    max_rounds: int | None = None,
    avg_removed: float = 10.0,
    max_string: int = 10,
    keep_p: float = 0.5,
    blink: float = 0.01,
) -> tuple[list[list[int]], int] | None:
    """Best routes found (node lists without depots, one per vehicle) and their objective
    (arc costs, fixed costs, penalties of stops left out). None when some must-visit stop
    found no place (it gives up after a fifth of its time or rounds, leaving the rest to the
    caller). With ``max_rounds`` the result does not depend on the machine's speed (unless
    the time limit comes first)."""
    deadline = time.perf_counter() + time_limit_s
    prob = problem(model)
    customers = prob.customers
    cur = empty_state(prob, len(model.nodes))
    for v in range(len(model.vehicles)):
        _refresh(prob, cur, v)
    _seed(seed)
    touched = np.zeros(len(model.vehicles), dtype=np.bool_)
    left = _recreate(prob, cur, customers.copy(), len(customers), 0.0, touched)
    value = int(left + cur.rc.sum())
    best, cand = copy(cur), copy(cur)
    costs = np.array([value, value, left, left], dtype=np.int64)
    placed = max(1, len(customers) - int((cur.where[customers] < 0).sum()))
    used = max(1, int((cur.ln > 2).sum()))
    # Temperatures in units of the mean arc: high enough to leave a local optimum early,
    # near zero at the end (the paper's 100 to 1 on Solomon's scale, where an arc is ~10).
    arc = max(1.0, float(cur.rc.sum()) / (placed + used))
    t_hi, t_lo = 10.0 * arc, 0.1 * arc
    t_start = time.perf_counter()
    span = max(1e-3, deadline - t_start)
    done = 0
    while True:
        now = time.perf_counter()
        if now >= deadline or (max_rounds is not None and done >= max_rounds):
            break
        # Still some must-visit without a place after a fifth of the search: give up, so
        # that whoever called has most of the time left for another method.
        if costs[3] >= UNPLACED and (
            done >= max_rounds * GIVE_UP
            if max_rounds is not None
            else now - t_start > span * GIVE_UP
        ):
            break
        if max_rounds is not None:
            frac0, step = done / max_rounds, min(CHUNK, max_rounds - done)
            frac1 = (done + step) / max_rounds
        else:
            # Each call starts at the clock's temperature and cools as over 1 % of the time
            # (a call takes about half that on 100 customers at 10 s).
            frac0, step = (now - t_start) / span, CHUNK
            frac1 = min(1.0, frac0 + 0.01)
        a = t_hi * (t_lo / t_hi) ** frac0
        b = t_hi * (t_lo / t_hi) ** frac1
        _rounds(prob, cur, cand, best, costs, step, a, b, avg_removed, max_string, keep_p, blink)
        done += step
    if costs[3] >= UNPLACED:
        return None
    seq, ln = best.seq, best.ln
    routes = [[int(x) for x in seq[v, 1 : ln[v] - 1]] for v in range(len(model.vehicles))]
    return routes, int(costs[1])


def warm() -> None:
    """Compile the search now (or load it from numba's cache, ~0.5 s) rather than in the
    first timed solve: compiling takes about 10 s."""
    from routing.integer import Node, Vehicle

    travel = tuple(tuple(abs(i - j) * 10 for j in range(4)) for i in range(4))
    nodes = (Node(), Node(windows=((0, 100),), demand=1), Node(demand=1), Node(penalty=5))
    vehicles = (Vehicle(0, 0, (0, 200), capacity=2), Vehicle(0, 0, (0, 200), capacity=2))
    search(Model(nodes=nodes, vehicles=vehicles, travel=(travel,)), 1.0, max_rounds=10)
