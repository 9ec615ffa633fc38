"""``fieldsense bench travel``: travel on real roads against the straight-line estimate.

For every ``.osm.pbf`` extract in ``--roads`` (data © OpenStreetMap contributors, ODbL):

1. build the car graph from scratch (``build_s``);
2. 150 x 150 matrices between places near the extract's roads: fieldsense's provider
   (``RoadTravel``: OSRM's table plus the hour factor, parking and the walk to the road) and
   OSRM's ``/table`` itself, timed per request; the provider's drive times against OSRM's;
3. **haversine regret**: one-agent days (8 appointments, 150 scored prospects, a lunch
   window: the routing benchmark's day, laid on the extract) planned once with the
   straight-line estimate and once on roads, both then driven on roads: the extra road travel
   time of the straight-line plan, and whether it misses an appointment's window.

Places are road nodes of the extract (any way a car may use), moved up to 25 m off the road,
as customers stand beside streets; nothing here knows the engine's speeds.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import osmium

from backend.roads.graphs import import_extract
from backend.roads.server import RoutedServer
from routing import plan as planner
from routing.roads import WALK_SPEED_MS, OsrmClient, RoadTravel
from routing.travel import (
    DEFAULT_PROFILES,
    GeoPoint,
    HaversineTravel,
    TravelMode,
    TravelTimes,
    _haversine,
    _radians,
)

CAR_WAYS = {
    "motorway", "trunk", "primary", "secondary", "tertiary", "unclassified", "residential",
    "living_street", "motorway_link", "trunk_link", "primary_link", "secondary_link",
    "tertiary_link",
}  # fmt: skip
MATRIX_POINTS = 150
MATRIX_RUNS = 15


def say(msg: str) -> None:
    print(f"[bench travel] {msg}", file=sys.stderr, flush=True)


def road_nodes(path: Path) -> np.ndarray:
    """(lat, lon) of every node on a way a car may use, degrees."""
    coords: list[tuple[float, float]] = []
    for way in (
        osmium.FileProcessor(str(path))
        .with_locations()
        .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
    ):
        if not isinstance(way, osmium.osm.Way) or way.tags.get("highway") not in CAR_WAYS:
            continue
        if way.tags.get("access") in ("no", "private"):
            continue
        for node in way.nodes:
            if node.location.valid():
                coords.append((node.location.lat, node.location.lon))
    return np.unique(np.array(coords, dtype=np.float64), axis=0)


def beside_roads(nodes: np.ndarray, count: int, rnd: random.Random) -> list[GeoPoint]:
    points = []
    for _ in range(count):
        lat, lon = nodes[rnd.randrange(len(nodes))]
        bearing, off = rnd.uniform(0, 2 * np.pi), rnd.uniform(0, 25)
        dlat = off * np.cos(bearing) / 111_320
        dlon = off * np.sin(bearing) / (111_320 * np.cos(np.radians(lat)))
        points.append(GeoPoint(float(lat + dlat), float(lon + dlon)))
    return points


def day_on(nodes: np.ndarray, seed: int) -> planner.Problem:
    """The routing benchmark's day (bench/routing.synthetic_day), on this map."""
    rnd = random.Random(seed)
    tz = timezone(timedelta(hours=9))
    day = datetime(2026, 11, 25, tzinfo=tz)
    places = beside_roads(nodes, 159, rnd)
    home = places[0]
    stops = []
    for k in range(8):
        t = day + timedelta(hours=9.5, minutes=65 * k)
        stops.append(
            planner.Stop(f"a{k}", places[1 + k], 1800, planner.StopKind.APPOINTMENT, ((t, t),))
        )
    for k in range(150):
        stops.append(planner.Stop(f"p{k}", places[9 + k], 1200, score=rnd.randint(1, 100)))
    agent = planner.Agent(
        "agent",
        home,
        day + timedelta(hours=9),
        day + timedelta(hours=19),
        lunch=planner.Lunch(day + timedelta(hours=12), day + timedelta(hours=14), 2700),
    )
    return planner.Problem((agent,), tuple(stops))


@dataclass(frozen=True, slots=True)
class Driven:
    travel_s: int
    late: int  # appointments started after their window
    stops: int


def drive(problem: planner.Problem, result: planner.PlanResult, roads: RoadTravel) -> Driven:
    """Drive a plan's order on roads: travel, wait for windows, lunch where the plan had it."""
    agent = problem.agents[0]
    plan = result.agents[0]
    by_id = {stop.id: stop for stop in problem.stops}
    order = [by_id[s.stop_id] for s in plan.stops]
    points = [agent.start, *(s.location for s in order), agent.end or agent.start]
    seconds = roads.matrix(points, agent.mode, agent.shift_start, agent.shift_end).seconds
    lunch_after = -1  # index in order after which the plan takes lunch (-1: before the first)
    if plan.lunch is not None:
        for i, s in enumerate(plan.stops):
            if s.departure <= plan.lunch[0]:
                lunch_after = i
    t = agent.shift_start
    travel = late = 0
    lunch_taken = plan.lunch is None
    for i, stop in enumerate(order):
        leg = seconds[i][i + 1]
        travel += leg
        if not lunch_taken and lunch_after == i - 1 and agent.lunch is not None:
            # Lunch before driving on, or on arrival (while waiting), whichever is sooner.
            lunch = timedelta(seconds=agent.lunch.duration_s)
            first = max(t, agent.lunch.earliest) + lunch + timedelta(seconds=leg)
            on_arrival = max(t + timedelta(seconds=leg), agent.lunch.earliest) + lunch
            t = min(first, on_arrival)
            lunch_taken = True
        else:
            t += timedelta(seconds=leg)
        if stop.windows:
            start, end = stop.windows[0]
            if t > end:
                late += stop.kind is planner.StopKind.APPOINTMENT
            t = max(t, start)
        t += timedelta(seconds=stop.service_s)
    travel += seconds[len(order)][len(order) + 1]
    return Driven(travel, late, len(order))


def _timed(fn: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def run_extract(path: Path, days: int, pool: ProcessPoolExecutor, workdir: Path) -> dict[str, Any]:
    graph = import_extract(path, "car", root=workdir, say=say)
    nodes = road_nodes(path)
    say(f"{path.name}: {len(nodes)} road nodes")
    row: dict[str, Any] = {"extract": path.name, "build_s": graph.build_s, "road_nodes": len(nodes)}
    with RoutedServer(graph, log=workdir / f"{path.stem}-routed.log") as server:
        osrm = OsrmClient(server.url, "driving")
        roads = RoadTravel({TravelMode.CAR: osrm})
        row |= _matrices(path, nodes, osrm, roads)
        row |= _days(path, nodes, days, roads, pool)
    return row


def _matrices(path: Path, nodes: np.ndarray, osrm: OsrmClient, roads: RoadTravel) -> dict[str, Any]:
    """Our road matrices against OSRM's own table on the same graph: time, and how far the
    drive times agree."""
    noon = datetime(2026, 11, 25, 12, tzinfo=UTC)  # speed factor 1.0 at noon
    overhead = DEFAULT_PROFILES[TravelMode.CAR].overhead_s
    rnd = random.Random(11)
    ours_ms, osrm_ms, errors, walk_share = [], [], [], []
    for k in range(MATRIX_RUNS):
        points = beside_roads(nodes, MATRIX_POINTS, rnd)
        table, t_osrm = _timed(lambda points=points: osrm.table(points))
        matrix, t_ours = _timed(
            lambda points=points: roads.matrix(points, TravelMode.CAR, noon, noon)
        )
        osrm_ms.append(t_osrm * 1000)
        ours_ms.append(t_ours * 1000)
        truth = table.seconds
        # The provider's drive time: its trip less the parking overhead and the walks
        # between each place and its snapped road position (both its own model, not the
        # network's); trips next door are walked and left out.
        snap = np.asarray(table.snap_m)
        walk = np.ceil((snap[:, None] + snap[None, :]) / WALK_SPEED_MS)
        ours = np.array(matrix.seconds, dtype=float) - overhead - walk
        lat, lon = _radians(points)
        straight = _haversine(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
        on_map = snap <= roads.max_snap_m
        mask = (truth >= 60) & ~np.isnan(truth) & (straight >= 50)
        mask &= on_map[:, None] & on_map[None, :]
        walk_share.extend((walk[mask] / (truth[mask] + walk[mask]) * 100).tolist())
        if k == 0:
            say(f"{path.name}: matrix {t_ours * 1000:.1f} ms, OSRM table {t_osrm * 1000:.1f} ms")
        errors.extend((np.abs(ours[mask] - truth[mask]) / truth[mask] * 100).tolist())
    return {
        "matrix_p50_ms": round(statistics.median(ours_ms), 2),
        "osrm_matrix_p50_ms": round(statistics.median(osrm_ms), 2),
        "duration_err_p50_pct": round(float(np.percentile(errors, 50)), 2),
        "duration_err_p90_pct": round(float(np.percentile(errors, 90)), 2),
        "walk_share_p50_pct": round(float(np.percentile(walk_share, 50)), 1),
    }


def _days(
    path: Path, nodes: np.ndarray, days: int, roads: RoadTravel, pool: ProcessPoolExecutor
) -> dict[str, Any]:
    """One-agent days planned on straight lines and on roads, both driven on roads: what
    the straight line costs, and how long planning and re-planning take."""
    line: TravelTimes = HaversineTravel()
    regrets, lates, road_lates, plan_s, replan_ms, served = [], [], [], [], [], []
    for seed in range(days):
        problem = day_on(nodes, seed)
        by_line = planner.plan(problem, planner.Options(), line, pool=pool)
        by_road, seconds = _timed(
            lambda p=problem: planner.plan(p, planner.Options(), roads, pool=pool)
        )
        plan_s.append(seconds)
        line_driven, road_driven = (
            drive(problem, by_line, roads),
            drive(problem, by_road, roads),
        )
        regrets.append((line_driven.travel_s / max(1, road_driven.travel_s) - 1) * 100)
        lates.append(line_driven.late > 0)
        road_lates.append(road_driven.late > 0)
        served.append((line_driven.stops, road_driven.stops))
        order = [s.stop_id for s in by_road.agents[0].stops]
        if len(order) > 3:
            rest = tuple(s for s in problem.stops if s.id != order[3])
            now = by_road.agents[0].stops[2].departure
            _, t_replan = _timed(
                lambda rest=rest, now=now, order=order, p=problem: planner.replan(
                    planner.Problem(p.agents, rest), "agent", p.agents[0].start, now,
                    order, order[:3], travel=roads,
                )
            )  # fmt: skip
            replan_ms.append(t_replan * 1000)
        say(
            f"{path.name} day {seed + 1}/{days}: straight-line plan drives "
            f"{line_driven.travel_s / 60:.0f} min on roads ({line_driven.late} late), "
            f"road plan {road_driven.travel_s / 60:.0f} min ({road_driven.late} late); planned in {seconds:.2f} s"
        )
    return {
        "haversine_regret_pct": round(statistics.mean(regrets), 1),
        "haversine_late_pct": round(100 * sum(lates) / len(lates), 1),
        "roads_late_pct": round(100 * sum(road_lates) / len(road_lates), 1),
        "plan_s_p50": round(statistics.median(plan_s), 3),
        "replan_ms_p50": round(statistics.median(replan_ms), 1) if replan_ms else None,
        "stops_straight_p50": statistics.median(a for a, _ in served),
        "stops_roads_p50": statistics.median(b for _, b in served),
    }


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def med(key: str) -> float:
        return round(statistics.median(r[key] for r in rows), 2)

    return {
        "build_s": max(r["build_s"] for r in rows),
        "matrix_p50_ms": med("matrix_p50_ms"),
        "osrm_matrix_p50_ms": med("osrm_matrix_p50_ms"),
        "duration_err_p50_pct": med("duration_err_p50_pct"),
        "duration_err_p90_pct": med("duration_err_p90_pct"),
        "haversine_regret_pct": round(statistics.mean(r["haversine_regret_pct"] for r in rows), 1),
        "haversine_late_pct": round(statistics.mean(r["haversine_late_pct"] for r in rows), 1),
        "plan_s_p50": med("plan_s_p50"),
    }


COLUMNS = (
    ("extract", "extract"), ("build_s", "build s"), ("matrix_p50_ms", "matrix ms"),
    ("osrm_matrix_p50_ms", "OSRM ms"), ("duration_err_p50_pct", "err p50 %"),
    ("duration_err_p90_pct", "err p90 %"), ("haversine_regret_pct", "regret %"),
    ("haversine_late_pct", "late %"), ("plan_s_p50", "plan s"), ("replan_ms_p50", "re-plan ms"),
)  # fmt: skip


def print_table(rows: list[dict[str, Any]], total: dict[str, Any]) -> None:
    lines = [[title for _, title in COLUMNS]]
    for row in [*rows, {"extract": "summary", **total}]:
        lines.append(["" if row.get(key) is None else str(row[key]) for key, _ in COLUMNS])
    widths = [max(len(line[i]) for line in lines) for i in range(len(COLUMNS))]
    for line in lines:
        print(
            "  ".join(
                cell.rjust(w) if i else cell.ljust(w)
                for i, (cell, w) in enumerate(zip(line, widths, strict=True))
            )
        )
    print("Road data © OpenStreetMap contributors (ODbL).")


def cli(args: Any) -> int:
    from backend.plans.pool import planner_pool, warm_pool

    folder = Path(args.roads)
    extracts = sorted(folder.glob("*.osm.pbf"))
    if not extracts:
        say(f"no .osm.pbf extracts in {folder}")
        return 2
    if args.days < 1:
        say("--days must be positive")
        return 2
    warm_pool()
    rows = []
    with tempfile.TemporaryDirectory(prefix="fieldsense-roads-") as tmp:
        for path in extracts:
            rows.append(run_extract(path, args.days, planner_pool(), Path(tmp)))
    total = summary(rows)
    print_table(rows, total)
    if args.json:
        report = {"benchmark": "travel", "roads": str(folder), "days": args.days,
                  "extracts": rows, "summary": total}  # fmt: skip
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
        say(f"wrote {args.json}")
    return 0
