"""Why a stop was left out of a plan: the checks behind each DropReason."""

from __future__ import annotations

from routing.integer import Model, Solution
from routing.model import DroppedStop, DropReason, Stop, StopKind


def _reachable_alone(model: Model, node: int, v: int) -> bool:
    vehicle = model.vehicles[v]
    travel = model.travel[vehicle.profile]
    n = model.nodes[node]
    t = vehicle.window[0] + travel[vehicle.start][node]
    windows = n.windows or ((0, model.horizon),)
    for a, b in sorted(windows):
        start = max(t, a)
        if start <= b and start + n.service + travel[node][vehicle.end] <= vehicle.window[1]:
            return True
    return False


def explain(model: Model, stop_nodes: dict[int, Stop], solution: Solution) -> list[DroppedStop]:
    kept_appointments: list[tuple[int, int, int, str, int]] = []  # vehicle, start, end, id, node
    counts = {}
    for route in solution.routes:
        counts[route.vehicle] = len(route.visits)
        for visit in route.visits:
            stop = stop_nodes[visit.node]
            if stop.kind is StopKind.APPOINTMENT:
                kept_appointments.append(
                    (route.vehicle, visit.start, visit.start + stop.service_s, stop.id, visit.node)
                )
    out = []
    for node in solution.dropped:
        stop = stop_nodes[node]
        n = model.nodes[node]
        vehicles = n.vehicles if n.vehicles is not None else tuple(range(len(model.vehicles)))
        if not any(_reachable_alone(model, node, v) for v in vehicles):
            out.append(
                DroppedStop(
                    stop.id,
                    stop.kind,
                    DropReason.UNREACHABLE,
                    "cannot be reached and served inside its window and the shift",
                )
            )
            continue
        capped = [v for v in vehicles if model.vehicles[v].max_stops is not None]
        if (
            capped
            and len(capped) == len(vehicles)
            and all(counts.get(v, 0) >= (model.vehicles[v].max_stops or 0) for v in vehicles)
        ):
            out.append(
                DroppedStop(stop.id, stop.kind, DropReason.STOP_CAP, "the stop cap is reached")
            )
            continue
        if stop.kind is StopKind.APPOINTMENT:
            lo = min(a for a, _ in n.windows)
            hi = max(b for _, b in n.windows) + stop.service_s
            clash = [
                sid for v, a, b, sid, _ in kept_appointments if v in vehicles and a < hi and lo < b
            ]
            far = [] if clash else _out_of_reach(model, node, vehicles, kept_appointments)
            if clash or far:
                detail = (
                    "overlaps appointment " + ", ".join(clash)
                    if clash
                    else "too far from appointment " + ", ".join(far) + " to keep both"
                )
                out.append(DroppedStop(stop.id, stop.kind, DropReason.CONFLICT, detail))
                continue
        if stop.kind is StopKind.OPTIONAL:
            out.append(
                DroppedStop(
                    stop.id,
                    stop.kind,
                    DropReason.LOWER_PRIORITY,
                    "the day is full of stops worth more than the detour to this one",
                )
            )
        else:
            out.append(
                DroppedStop(
                    stop.id,
                    stop.kind,
                    DropReason.NO_TIME,
                    "no room left in the day around the other commitments",
                )
            )
    return out


def _out_of_reach(
    model: Model,
    node: int,
    vehicles: tuple[int, ...],
    kept: list[tuple[int, int, int, str, int]],
) -> list[str]:
    """The kept appointments on either side of this one that leave no time to travel
    between them: the one before ends too late to get here by its latest start, or this one
    ends too late (starting as early as it may) to get to the next in time. Empty when one
    vehicle could keep all three."""
    n = model.nodes[node]
    lo, hi = min(a for a, _ in n.windows), max(b for _, b in n.windows)
    culprits: list[str] = []
    for v in vehicles:
        travel = model.travel[model.vehicles[v].profile]
        mine = sorted((a, b, sid, k) for w, a, b, sid, k in kept if w == v)
        before = [x for x in mine if x[0] <= lo]
        after = [x for x in mine if x[0] > lo]
        late = bool(before) and before[-1][1] + travel[before[-1][3]][node] > hi
        early = bool(after) and lo + n.service + travel[node][after[0][3]] > after[0][0]
        if not (late or early):
            return []
        culprits += ([before[-1][2]] if late else []) + ([after[0][2]] if early else [])
    return culprits
