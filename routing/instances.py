"""Published benchmark instances: Solomon VRPTW and OPTW (orienteering with time windows).

Each reader returns an ``Instance`` with the integer ``Model`` its convention implies:
distances are Euclidean and truncated to one decimal (Solomon and the Solomon-based OPTW files)
or two decimals (the Cordeau-based OPTW files), so scaling by 10 or 100 makes every arc an exact
integer and the solver's objective equals the published one after dividing back.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path

from routing.integer import Model, Node, Solution, Vehicle


class InstanceError(ValueError):
    """A file that is neither a Solomon nor an OPTW instance, or a broken one."""


@dataclass(frozen=True, slots=True)
class Instance:
    name: str
    kind: str  # "solomon" or "optw"
    scale: int  # model units per instance unit
    model: Model
    coords: tuple[tuple[float, float], ...]
    scores: tuple[int, ...] = ()  # OPTW: score per node

    def value(self, solution: Solution) -> float:
        """The published objective of a solution: total distance, or total score."""
        if self.kind == "optw":
            return float(sum(self.scores[v.node] for r in solution.routes for v in r.visits))
        total = 0
        for route in solution.routes:
            nodes = [0, *(v.node for v in route.visits), 0]
            total += sum(self.model.travel[0][a][b] for a, b in itertools.pairwise(nodes))
        return total / self.scale


def _truncated_matrix(coords: list[tuple[float, float]], scale: int) -> tuple[tuple[int, ...], ...]:
    # The tiny epsilon keeps 2.0 from becoming 1.9999999 and then 19 instead of 20.
    return tuple(
        tuple(math.floor(math.hypot(ax - bx, ay - by) * scale + 1e-9) for bx, by in coords)
        for ax, ay in coords
    )


def _numbers(line: str) -> list[float]:
    try:
        return [float(token) for token in line.split()]
    except ValueError:
        return []


def read_solomon(path: Path) -> Instance:
    lines = path.read_text().splitlines()
    fleet = capacity = None
    rows: list[list[float]] = []
    section = ""
    for line in lines:
        upper = line.strip().upper()
        if upper.startswith("VEHICLE"):
            section = "vehicle"
            continue
        if upper.startswith("CUSTOMER"):
            section = "customer"
            continue
        numbers = _numbers(line)
        if not numbers:
            continue
        if section == "vehicle" and len(numbers) == 2 and fleet is None:
            fleet, capacity = int(numbers[0]), int(numbers[1])
        elif section == "customer" and len(numbers) >= 7:
            rows.append(numbers[:7])
    if fleet is None or capacity is None or len(rows) < 2:
        raise InstanceError(f"{path.name}: not a Solomon instance (VEHICLE and CUSTOMER sections)")
    scale = 10
    coords = [(row[1], row[2]) for row in rows]
    travel = _truncated_matrix(coords, scale)
    depot_close = round(rows[0][5] * scale)
    # A customer may be left out only at a price no distance can pay for: the benchmark counts
    # a solution that drops one as infeasible, but a droppable customer lets the first-solution
    # heuristics finish and local search insert it afterwards.
    drop_penalty = 10 * depot_close * len(rows) + 1
    nodes = [Node()]
    for row in rows[1:]:
        nodes.append(
            Node(
                service=round(row[6] * scale),
                windows=((round(row[4] * scale), round(row[5] * scale)),),
                demand=int(row[3]),
                penalty=drop_penalty,
            )
        )
    vehicles = tuple(
        Vehicle(start=0, end=0, window=(0, depot_close), capacity=capacity) for _ in range(fleet)
    )
    model = Model(nodes=tuple(nodes), vehicles=vehicles, travel=(travel,))
    return Instance(name=path.stem, kind="solomon", scale=scale, model=model, coords=tuple(coords))


def read_optw(path: Path, routes: int = 1) -> Instance:
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    if not lines:
        raise InstanceError(f"{path.name}: empty")
    header = _numbers(lines[0])
    if len(header) != 4:
        raise InstanceError(f"{path.name}: not an OPTW instance (first line 'k v N t')")
    rows = [numbers for numbers in map(_numbers, lines[1:]) if len(numbers) >= 7]
    if len(rows) < 2:
        raise InstanceError(f"{path.name}: no vertices")
    coords = [(row[1], row[2]) for row in rows]
    # Solomon-based files have integer coordinates and truncate to one decimal; the
    # Cordeau-based ones (pr*) have fractional coordinates and truncate to two.
    integral = all(float(x).is_integer() and float(y).is_integer() for x, y in coords)
    scale = 10 if integral else 100
    travel = _truncated_matrix(coords, scale)
    close = round(rows[0][-1] * scale)
    # One point of score outweighs any distance: distance only breaks ties (and guides the
    # search towards short routes that leave room for more).
    per_point = close * len(rows) + 1
    nodes = [Node()]
    scores = [0]
    for row in rows[1:]:
        score = round(row[4])
        scores.append(score)
        nodes.append(
            Node(
                service=round(row[3] * scale),
                windows=((round(row[-2] * scale), round(row[-1] * scale)),),
                penalty=score * per_point,
            )
        )
    vehicles = tuple(
        Vehicle(start=0, end=0, window=(round(rows[0][-2] * scale), close)) for _ in range(routes)
    )
    model = Model(nodes=tuple(nodes), vehicles=vehicles, travel=(travel,))
    return Instance(
        name=path.stem,
        kind="optw",
        scale=scale,
        model=model,
        coords=tuple(coords),
        scores=tuple(scores),
    )


def detect(path: Path) -> str | None:
    """'solomon', 'optw' or None, from the file's content (not its name)."""
    try:
        head = path.read_text(errors="replace").splitlines()[:12]
    except OSError:
        return None
    text = "\n".join(head).upper()
    if "VEHICLE" in text and "CUSTOMER" in text:
        return "solomon"
    first = next((line for line in head if line.strip()), "")
    if len(_numbers(first)) == 4:
        return "optw"
    return None
