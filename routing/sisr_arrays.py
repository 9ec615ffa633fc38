"""The integer model and the routes as numpy arrays, the shapes that sisr.py's compiled loop
takes (numba takes named tuples of arrays)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from routing.integer import Model

# Neighbours per customer that a ruin walks (the string removals start near a seed).
NEIGHBOURS = 100


class Problem(NamedTuple):
    """The model as arrays."""

    travel: np.ndarray  # profile x node x node
    cost: np.ndarray  # profile x node x node
    service: np.ndarray
    ready: np.ndarray  # start of the stop's window (0: none)
    due: np.ndarray  # end of the stop's window (the horizon: none)
    demand: np.ndarray
    penalty: np.ndarray  # -1: must be visited
    stopw: np.ndarray  # 1 where the node counts towards a stop cap
    allowed: np.ndarray  # node x vehicle
    customers: np.ndarray  # the nodes that are not depots
    vstart: np.ndarray
    vend: np.ndarray
    vopen: np.ndarray
    vclose: np.ndarray
    vcap: np.ndarray
    vprof: np.ndarray
    vfixed: np.ndarray
    vmax: np.ndarray
    vkind: np.ndarray  # vehicles alike in every respect share a kind
    adj: np.ndarray  # node x nearest customers
    far: np.ndarray  # cost from the nearest start


class State(NamedTuple):
    """Routes as arrays, one row per vehicle, depots included."""

    seq: np.ndarray  # nodes per position
    ln: np.ndarray  # route lengths
    load: np.ndarray
    nst: np.ndarray  # stops counted towards the cap
    st: np.ndarray  # earliest start of service per position
    lt: np.ndarray  # latest start of service per position
    rc: np.ndarray  # route cost
    where: np.ndarray  # vehicle of each node, -1: none


def _depots(model: Model) -> set[int]:
    return {v.start for v in model.vehicles} | {v.end for v in model.vehicles}


def _nodes(model: Model) -> dict[str, np.ndarray]:
    """The per-node arrays: matrices, service, window, demand, penalty, stop weight, the
    vehicles allowed, and which nodes are customers."""
    n, nv = len(model.nodes), len(model.vehicles)
    horizon = model.horizon or max(v.window[1] for v in model.vehicles)
    depots = _depots(model)
    costs = model.cost if model.cost is not None else model.travel
    nodes = model.nodes
    allowed = np.ones((n, nv), dtype=np.bool_)
    for i, node in enumerate(nodes):
        if node.vehicles is not None:
            allowed[i, :] = False
            allowed[i, list(node.vehicles)] = True
    return {
        "travel": np.array(model.travel, dtype=np.int64).reshape(len(model.travel), n, n),
        "cost": np.array(costs, dtype=np.int64).reshape(len(costs), n, n),
        "service": np.array([node.service for node in nodes], dtype=np.int64),
        "ready": np.array([node.windows[0][0] if node.windows else 0 for node in nodes], np.int64),
        "due": np.array(
            [node.windows[0][1] if node.windows else horizon for node in nodes], np.int64
        ),
        "demand": np.array([node.demand for node in nodes], dtype=np.int64),
        "penalty": np.array(
            [-1 if node.penalty is None else node.penalty for node in nodes], dtype=np.int64
        ),
        "stopw": np.array(
            [1 if (i not in depots and node.counts_as_stop) else 0 for i, node in enumerate(nodes)],
            dtype=np.int64,
        ),
        "allowed": allowed,
        "customers": np.array([i for i in range(n) if i not in depots], dtype=np.int64),
    }


def _vehicles(model: Model, demand: np.ndarray) -> dict[str, np.ndarray]:
    """The per-vehicle arrays, and each vehicle's kind: vehicles that are the same in every
    respect share one, and an empty route is tried for one of each."""
    vehicles, n = model.vehicles, len(model.nodes)
    big = int(demand.sum()) + 1
    vcap = np.array([big if v.capacity is None else v.capacity for v in vehicles], np.int64)
    vmax = np.array([n if v.max_stops is None else v.max_stops for v in vehicles], np.int64)
    kinds: dict[tuple[int, ...], int] = {}
    vkind = np.array(
        [
            kinds.setdefault(
                (v.start, v.end, *v.window, int(vcap[k]), v.profile, v.fixed_cost, int(vmax[k])),
                len(kinds),
            )
            for k, v in enumerate(vehicles)
        ],
        dtype=np.int64,
    )
    if any(node.vehicles is not None for node in model.nodes):
        vkind = np.arange(len(vehicles), dtype=np.int64)  # allowed vehicles differ per stop
    return {
        "vstart": np.array([v.start for v in vehicles], dtype=np.int64),
        "vend": np.array([v.end for v in vehicles], dtype=np.int64),
        "vopen": np.array([v.window[0] for v in vehicles], dtype=np.int64),
        "vclose": np.array([v.window[1] for v in vehicles], dtype=np.int64),
        "vcap": vcap,
        "vprof": np.array([v.profile for v in vehicles], dtype=np.int64),
        "vfixed": np.array([v.fixed_cost for v in vehicles], dtype=np.int64),
        "vmax": vmax,
        "vkind": vkind,
    }


def problem(model: Model) -> Problem:
    nodes = _nodes(model)
    vehicles = _vehicles(model, nodes["demand"])
    cost, customers, vprof = nodes["cost"], nodes["customers"], vehicles["vprof"]
    n, nv = len(model.nodes), len(model.vehicles)
    # Neighbours by the first vehicle's cost (the ruin only needs "near").
    k = min(NEIGHBOURS, len(customers))
    adj = np.zeros((n, max(k, 1)), dtype=np.int64)
    if len(customers):
        c0 = cost[vprof[0]]
        for i in customers:
            d = c0[i, customers] + c0[customers, i]
            adj[i, :k] = customers[np.argsort(d, kind="stable")[:k]]
    vstart = vehicles["vstart"]
    far = np.array(
        [min(int(cost[vprof[v]][vstart[v], i]) for v in range(nv)) for i in range(n)],
        dtype=np.int64,
    )
    return Problem(**nodes, **vehicles, adj=adj, far=far)


def empty_state(prob: Problem, n: int) -> State:
    """Every route from its start straight to its end; no node placed."""
    nv, width = len(prob.vstart), len(prob.customers) + 2
    seq = np.zeros((nv, width), dtype=np.int64)
    seq[:, 0] = prob.vstart
    seq[:, 1] = prob.vend
    return State(
        seq=seq,
        ln=np.full(nv, 2, dtype=np.int64),
        load=np.zeros(nv, dtype=np.int64),
        nst=np.zeros(nv, dtype=np.int64),
        st=np.zeros((nv, width), dtype=np.int64),
        lt=np.zeros((nv, width), dtype=np.int64),
        rc=np.zeros(nv, dtype=np.int64),
        where=np.full(n, -1, dtype=np.int64),
    )


def copy(state: State) -> State:
    return State(*(a.copy() for a in state))
