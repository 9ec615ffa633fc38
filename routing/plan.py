"""An agent's day (or a team's): appointments, must-visits and optional prospects.

``plan(problem)`` turns the domain problem into the integer model of ``routing.core``, solves
it and explains every stop it leaves out. Times are aware datetimes; inside the model they are
whole seconds from the earliest shift start. Every stop is droppable at a price, so a plan
always exists: an appointment is worth more than any number of must-visits, a must-visit more
than any day of travel, and an optional prospect its score x ``score_value_s`` seconds of
travel. The objective is travel time plus the price of what is left out.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from routing import ils
from routing.core import orienteering_portfolio, portfolio
from routing.integer import (
    Break,
    FirstSolution,
    Metaheuristic,
    Model,
    Node,
    Solution,
    Strategy,
    Vehicle,
)
from routing.lunch import lunch_of
from routing.model import (
    Agent,
    AgentPlan,
    Area,
    Coaching,
    DroppedStop,
    DropReason,
    Lunch,
    Options,
    PlannedStop,
    PlanResult,
    Problem,
    ProblemError,
    Stop,
    StopKind,
)
from routing.reasons import explain
from routing.travel import GeoPoint, HaversineTravel, TravelMatrix, TravelMode, TravelTimes

__all__ = [
    "Agent",
    "AgentPlan",
    "Area",
    "Coaching",
    "DropReason",
    "DroppedStop",
    "Lunch",
    "Options",
    "PlanResult",
    "PlannedStop",
    "Problem",
    "ProblemError",
    "Stop",
    "StopKind",
    "build",
    "plan",
    "replan",
    "validate",
]

APPOINTMENT_PENALTY = 100_000_000
MUST_PENALTY = 10_000_000


def validate(problem: Problem) -> None:
    """Raise ProblemError for input that cannot describe a day."""
    if not problem.agents:
        raise ProblemError("agents", "at least one agent is needed")
    for i, agent in enumerate(problem.agents):
        if agent.shift_end <= agent.shift_start:
            raise ProblemError(f"agents[{i}].shift_end", "the shift ends before it starts")
        if agent.shift_end - agent.shift_start > timedelta(hours=24):
            raise ProblemError(f"agents[{i}].shift_end", "a shift lasts at most 24 hours")
        if agent.lunch is not None:
            if agent.lunch.latest < agent.lunch.earliest:
                raise ProblemError(f"agents[{i}].lunch", "latest start before earliest start")
            if agent.lunch.duration_s < 0:
                raise ProblemError(f"agents[{i}].lunch.duration_s", "must not be negative")
        if agent.max_stops is not None and agent.max_stops < 0:
            raise ProblemError(f"agents[{i}].max_stops", "must not be negative")
    longest = max(agent.shift_end - agent.shift_start for agent in problem.agents)
    seen: set[str] = set()
    for i, stop in enumerate(problem.stops):
        if stop.id in seen:
            raise ProblemError(f"stops[{i}].id", f"duplicate stop {stop.id}")
        seen.add(stop.id)
        if stop.service_s < 0:
            raise ProblemError(f"stops[{i}].service_s", "must not be negative")
        if timedelta(seconds=stop.service_s) > longest:
            raise ProblemError(f"stops[{i}].service_s", "longer than the shift")
        for k, (a, b) in enumerate(stop.windows):
            if b < a:
                raise ProblemError(f"stops[{i}].windows[{k}]", "the window ends before it starts")
        if stop.kind is StopKind.APPOINTMENT and not stop.windows:
            raise ProblemError(f"stops[{i}].windows", "an appointment needs a time window")
        if stop.score < 0:
            raise ProblemError(f"stops[{i}].score", "must not be negative")


def default_strategies(options: Options, shape: str) -> tuple[Strategy, ...]:
    """Two searches for the two cores. Measured on the published instances (docs/routing.md):
    where every stop is optional and the day has no break (orienteering), two randomised
    insertion searches taking turns with tabu search; where stops must be served, parallel
    cheapest insertion with guided local search, next to the same tabu search, each after a
    string-removal search where the model suits it."""
    tabu = Strategy(
        FirstSolution.PATH_CHEAPEST_ARC,
        Metaheuristic.TABU_SEARCH,
        options.time_limit_s,
        options.solution_limit,
    )
    if shape == "optional":
        return orienteering_portfolio(options.time_limit_s, options.solution_limit)
    gls = Strategy(
        FirstSolution.PARALLEL_CHEAPEST_INSERTION,
        Metaheuristic.GUIDED_LOCAL_SEARCH,
        options.time_limit_s,
        options.solution_limit,
    )
    # Where the day suits it (no lunch, one window per stop), both start with string-removal
    # ruin and recreate (routing.sisr) and polish with their own search for the last 5 %.
    sisr_s = 0.95 * options.time_limit_s
    return (
        replace(gls, sisr_s=sisr_s, seed=1),
        replace(tabu, sisr_s=sisr_s, seed=2),
    )


@dataclass(slots=True)
class _Built:
    model: Model
    origin: datetime
    stop_nodes: dict[int, Stop]  # node → stop
    excluded: list[DroppedStop]
    metres: tuple[tuple[tuple[int, ...], ...], ...]  # per profile
    profiles: list[TravelMode]
    points: list[GeoPoint]
    travel: str = "straight_line"
    travel_note: str | None = None
    lunch_notes: dict[str, str] = field(default_factory=dict)  # agent id → what became of it


def _effective_score(stop: Stop, coaching: Coaching) -> float:
    score = stop.score + coaching.boost.get(stop.id, 0.0)
    if coaching.focus_segment is not None and stop.segment == coaching.focus_segment:
        score *= coaching.focus_factor
    return max(0.0, score)


def _seconds(t: datetime, origin: datetime) -> int:
    return int((t - origin).total_seconds())


def build(problem: Problem, options: Options, travel: TravelTimes) -> _Built:
    validate(problem)
    origin = min(agent.shift_start for agent in problem.agents)
    agent_index = {agent.id: v for v, agent in enumerate(problem.agents)}
    kept, excluded = _plannable(problem, agent_index)
    points = [stop.location for stop in kept]
    vehicle_nodes: list[tuple[int, int]] = []
    for agent in problem.agents:
        points.append(agent.start)
        start = len(points) - 1
        points.append(agent.end or agent.start)
        vehicle_nodes.append((start, len(points) - 1))

    profiles = sorted({agent.mode for agent in problem.agents}, key=list(TravelMode).index)
    window_start = min(agent.shift_start for agent in problem.agents)
    window_end = max(agent.shift_end for agent in problem.agents)
    matrices = [travel.matrix(points, mode, window_start, window_end) for mode in profiles]

    horizon = _seconds(window_end, origin)
    nodes = [_node(stop, origin, horizon, problem.coaching, options, agent_index) for stop in kept]
    for _ in problem.agents:
        nodes.extend([Node(), Node()])
    fitted = [
        lunch_of(problem, kept, agent, vehicle_nodes[v], matrices[profiles.index(agent.mode)])
        for v, agent in enumerate(problem.agents)
    ]
    vehicles = [
        _vehicle(
            replace(agent, lunch=f.lunch), vehicle_nodes[v], origin, profiles, problem.coaching
        )
        for v, (agent, f) in enumerate(zip(problem.agents, fitted, strict=True))
    ]
    model = Model(
        nodes=tuple(nodes),
        vehicles=tuple(vehicles),
        travel=tuple(m.seconds for m in matrices),
        horizon=horizon + 1,
    )
    return _Built(
        model=model,
        origin=origin,
        stop_nodes=dict(enumerate(kept)),
        excluded=excluded,
        metres=tuple(m.metres for m in matrices),
        profiles=profiles,
        points=points,
        travel=_source(matrices),
        travel_note="; ".join(m.note for m in matrices if m.note) or None,
        lunch_notes={a.id: f.note for a, f in zip(problem.agents, fitted, strict=True) if f.note},
    )


def _plannable(
    problem: Problem, agent_index: dict[str, int]
) -> tuple[list[Stop], list[DroppedStop]]:
    """The stops the solver sees, and those left out before it: optional ones inside an
    area the coaching says to avoid, and ones no agent of this plan may visit."""
    excluded: list[DroppedStop] = []
    kept: list[Stop] = []
    for stop in problem.stops:
        if stop.kind is StopKind.OPTIONAL and any(
            a.contains(stop.location) for a in problem.coaching.avoid
        ):
            excluded.append(
                DroppedStop(stop.id, stop.kind, DropReason.AVOIDED_AREA, "inside an avoided area")
            )
            continue
        if stop.agents is not None and not any(a in agent_index for a in stop.agents):
            excluded.append(
                DroppedStop(
                    stop.id, stop.kind, DropReason.NOT_ALLOWED, "no agent of this plan may visit it"
                )
            )
            continue
        kept.append(stop)
    return kept, excluded


def _node(
    stop: Stop,
    origin: datetime,
    horizon: int,
    coaching: Coaching,
    options: Options,
    agent_index: dict[str, int],
) -> Node:
    """The stop as the solver's node: windows in seconds from `origin` (clipped to the
    horizon), its penalty when left out, the vehicles that may serve it."""
    windows = tuple(
        (max(0, _seconds(a, origin)), min(horizon, _seconds(b, origin))) for a, b in stop.windows
    )
    # A window entirely outside every shift leaves the stop unreachable, reported later.
    windows = tuple((a, b) for a, b in windows if a <= b) or (
        ((horizon + 1, horizon + 1),) if stop.windows else ()
    )
    if stop.kind is StopKind.APPOINTMENT:
        penalty = APPOINTMENT_PENALTY
    elif stop.kind is StopKind.MUST:
        penalty = MUST_PENALTY
    else:
        penalty = round(_effective_score(stop, coaching) * options.score_value_s)
    allowed = (
        tuple(sorted(agent_index[a] for a in stop.agents if a in agent_index))
        if stop.agents is not None
        else None
    )
    return Node(service=stop.service_s, windows=windows, penalty=penalty, vehicles=allowed)


def _vehicle(
    agent: Agent,
    nodes: tuple[int, int],
    origin: datetime,
    profiles: list[TravelMode],
    coaching: Coaching,
) -> Vehicle:
    """The agent as the solver's vehicle: start and end nodes, shift, lunch, stop cap,
    travel profile, and the coaching's target of visits."""
    breaks: tuple[Break, ...] = ()
    if agent.lunch is not None:
        breaks = (
            Break(
                earliest=_seconds(agent.lunch.earliest, origin),
                latest=_seconds(agent.lunch.latest, origin),
                duration=agent.lunch.duration_s,
            ),
        )
    target = coaching.target_visits
    return Vehicle(
        start=nodes[0],
        end=nodes[1],
        window=(_seconds(agent.shift_start, origin), _seconds(agent.shift_end, origin)),
        max_stops=agent.max_stops,
        breaks=breaks,
        profile=profiles.index(agent.mode),
        min_stops=target,
        # Each visit short of the target costs as much as a 30-minute detour.
        min_stops_penalty=1800 if target else 0,
    )


def _source(matrices: Sequence[TravelMatrix]) -> str:
    """One word for a plan's travel: roads, straight_line, or mixed."""
    sources = {m.source for m in matrices}
    return sources.pop() if len(sources) == 1 else "mixed"


def _result(
    built: _Built, solution: Solution, problem: Problem, options: Options, solve_ms: int
) -> PlanResult:
    model = built.model
    origin = built.origin

    def at(seconds: int) -> datetime:
        return origin + timedelta(seconds=seconds)

    plans = []
    score = 0.0
    for route in solution.routes:
        agent = problem.agents[route.vehicle]
        vehicle = model.vehicles[route.vehicle]
        travel = model.travel[vehicle.profile]
        metres = built.metres[vehicle.profile]
        prev = vehicle.start
        stops = []
        totals = {"travel": 0, "wait": 0, "service": 0, "metres": 0}
        for visit in route.visits:
            stop = built.stop_nodes[visit.node]
            leg = travel[prev][visit.node]
            wait = max(0, visit.start - visit.arrival)
            stops.append(
                PlannedStop(
                    stop_id=stop.id,
                    kind=stop.kind,
                    arrival=at(visit.arrival),
                    start=at(visit.start),
                    departure=at(visit.start + stop.service_s),
                    wait_s=wait,
                    travel_s=leg,
                    distance_m=metres[prev][visit.node],
                    score=_effective_score(stop, problem.coaching),
                )
            )
            totals["travel"] += leg
            totals["wait"] += wait
            totals["service"] += stop.service_s
            totals["metres"] += metres[prev][visit.node]
            if stop.kind is StopKind.OPTIONAL:
                score += _effective_score(stop, problem.coaching)
            prev = visit.node
        totals["travel"] += travel[prev][vehicle.end]
        totals["metres"] += metres[prev][vehicle.end]
        lunch = None
        if route.breaks:
            b_start, b_len = route.breaks[0]
            lunch = (at(b_start), at(b_start + b_len))
        plans.append(
            AgentPlan(
                agent_id=agent.id,
                depart=at(route.depart),
                arrive=at(route.end),
                stops=tuple(stops),
                travel_s=totals["travel"],
                wait_s=totals["wait"],
                service_s=totals["service"],
                distance_m=totals["metres"],
                lunch=lunch,
                lunch_note=built.lunch_notes.get(agent.id),
                path=(
                    built.points[vehicle.start],
                    *(built.points[v.node] for v in route.visits),
                    built.points[vehicle.end],
                ),
            )
        )
    dropped = built.excluded + explain(built.model, built.stop_nodes, solution)
    return PlanResult(
        agents=tuple(plans),
        dropped=tuple(dropped),
        objective=solution.objective,
        score=round(score, 3),
        solve_ms=solve_ms,
        strategy=solution.label,
        travel=built.travel,
        travel_note=built.travel_note,
    )


def plan(
    problem: Problem,
    options: Options | None = None,
    travel: TravelTimes | None = None,
    initial: Mapping[str, Sequence[str]] | None = None,
    pool: ProcessPoolExecutor | None = None,
) -> PlanResult:
    """Plan the day. ``initial`` (agent id → stop ids in order) warm-starts the search."""
    options = options or Options()
    travel = travel or HaversineTravel()
    t0 = time.perf_counter()
    built = build(problem, options, travel)
    node_of = {stop.id: node for node, stop in built.stop_nodes.items()}
    start_routes = None
    if initial is not None:
        start_routes = [
            [node_of[s] for s in initial.get(agent.id, ()) if s in node_of]
            for agent in problem.agents
        ]
    # The insertion search handles days of optional stops without breaks; others go to
    # OR-Tools alone (routing.ils.supports).
    strategies = default_strategies(options, "optional" if ils.supports(built.model) else "fleet")
    strategies = strategies[: max(1, options.workers)]
    solution = portfolio(built.model, strategies, start_routes, pool)
    if solution is None:
        # Only when the warm start and both searches failed, which a model where everything
        # may be dropped does not allow; keep the promise of a plan anyway.
        solution = portfolio(built.model, strategies[:1], None, None)
    if solution is None:
        raise RuntimeError("the solver returned no plan for a model where every stop is optional")
    solve_ms = int((time.perf_counter() - t0) * 1000)
    return _result(built, solution, problem, options, solve_ms)


def replan(
    problem: Problem,
    agent_id: str,
    position: GeoPoint,
    now: datetime,
    previous: Sequence[str],
    done: Iterable[str] = (),
    options: Options | None = None,
    travel: TravelTimes | None = None,
) -> PlanResult:
    """Re-plan one agent's rest of the day from where they are, now.

    Stops in ``done`` are finished and leave the problem; the others keep their windows. The
    previous order (without what is done or gone) warm-starts a short search. A stop longer
    than what is left of the shift is dropped (`no_time`), not an error: the day as given
    was valid (it is validated as such), only the hour is late.
    """
    validate(problem)
    done_set = set(done)
    agents = []
    for agent in problem.agents:
        if agent.id != agent_id:
            continue
        if now >= agent.shift_end:
            raise ProblemError("now", "the shift is already over")
        lunch = agent.lunch
        if lunch is not None and lunch.latest < now:
            lunch = None  # taken or skipped: not planned again
        elif lunch is not None and lunch.earliest < now:
            lunch = replace(lunch, earliest=now)
        agents.append(
            replace(
                agent,
                start=position,
                end=agent.end or agent.start,
                shift_start=max(now, agent.shift_start),
                lunch=lunch,
                max_stops=(
                    None if agent.max_stops is None else max(0, agent.max_stops - len(done_set))
                ),
            )
        )
    if not agents:
        raise ProblemError("agent_id", f"agent {agent_id} is not in the problem")
    left = max(agent.shift_end - agent.shift_start for agent in agents)
    stops = tuple(stop for stop in problem.stops if stop.id not in done_set)
    late = [s for s in stops if timedelta(seconds=s.service_s) > left]
    stops = tuple(s for s in stops if timedelta(seconds=s.service_s) <= left)
    rest = [s for s in previous if s not in done_set]
    quick = replace(
        options or Options(),
        time_limit_s=min((options or Options()).time_limit_s, 0.15),
        solution_limit=100,
        workers=1,
    )
    result = plan(
        Problem(agents=tuple(agents), stops=stops, coaching=problem.coaching),
        quick,
        travel,
        initial={agent_id: rest},
    )
    too_long = tuple(
        DroppedStop(s.id, s.kind, DropReason.NO_TIME, "longer than what is left of the shift")
        for s in late
    )
    return replace(result, dropped=result.dropped + too_long) if too_long else result
