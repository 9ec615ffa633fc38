"""Lunch never pushes out an appointment.

A lunch break is hard in the solver (OR-Tools' break intervals), and an appointment only has a
high price for being left out; where the appointments leave no gap of the lunch's length
inside its window, the solver kept the lunch and dropped an appointment. Before solving, the
agent's appointments are laid out as tightly as their windows allow (each as early as it may
start, the travel between them at the day's matrix): the lunch keeps its length where a gap
holds it; else it shortens to the longest gap inside its window, and is left out when that is
under `MIN_LUNCH_S`. The plan says so (`AgentPlan.lunch_note`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from routing.model import Agent, Lunch, Problem, Stop, StopKind
from routing.travel import TravelMatrix

MIN_LUNCH_S = 15 * 60


@dataclass(frozen=True, slots=True)
class Fitted:
    lunch: Lunch | None
    note: str | None = None


def lunch_of(
    problem: Problem, kept: list[Stop], agent: Agent, nodes: tuple[int, int], m: TravelMatrix
) -> Fitted:
    """The agent's lunch as their own appointments leave room for it. In a team plan an
    appointment binds an agent only when it names them. `kept`: the stops the solver sees, in
    node order; `nodes`: the agent's start and end nodes."""
    alone = len(problem.agents) == 1
    mine = [
        (stop, k)
        for k, stop in enumerate(kept)
        if stop.kind is StopKind.APPOINTMENT and (alone or stop.agents == (agent.id,))
    ]
    return fit_lunch(agent, mine, nodes[0], nodes[1], m.seconds)


def fit_lunch(
    agent: Agent,
    appointments: Sequence[tuple[Stop, int]],
    start_node: int,
    end_node: int,
    seconds: Sequence[Sequence[int]],
) -> Fitted:
    """The agent's lunch as the appointments leave room for it. `appointments`: the agent's
    own (stop, matrix node); `seconds`: the travel matrix of the agent's mode."""
    lunch = agent.lunch
    if lunch is None or not appointments:
        return Fitted(lunch)
    best: tuple[int, datetime, datetime] | None = None  # (longest, earliest start, gap end)
    for begins, ends in _gaps(agent, appointments, start_node, end_node, seconds):
        first = max(begins, lunch.earliest)
        if first > lunch.latest:
            continue
        longest = int((ends - first).total_seconds())
        if best is None or longest > best[0]:
            best = (longest, first, ends)
        if longest >= lunch.duration_s:
            return Fitted(lunch)
    if best is None or best[0] < MIN_LUNCH_S:
        return Fitted(None, "no lunch: the appointments leave no 15 minutes inside its window")
    minutes = best[0] // 60
    latest = min(lunch.latest, best[2] - timedelta(minutes=minutes))
    shorter = replace(lunch, earliest=best[1], latest=latest, duration_s=minutes * 60)
    return Fitted(shorter, f"lunch shortened to {minutes} min: the appointments leave no more")


def _gaps(
    agent: Agent,
    appointments: Sequence[tuple[Stop, int]],
    start_node: int,
    end_node: int,
    seconds: Sequence[Sequence[int]],
) -> list[tuple[datetime, datetime]]:
    """The gaps the appointments leave in the shift, each from the earliest the agent is free
    to the latest it must set off for the next (travel taken out)."""
    ordered = sorted(appointments, key=lambda a: min(w[0] for w in a[0].windows))
    free, node = agent.shift_start, start_node
    gaps = []
    for stop, at in ordered:
        opens = min(w[0] for w in stop.windows)
        closes = max(w[1] for w in stop.windows)
        gaps.append((free, closes - timedelta(seconds=seconds[node][at])))
        free = max(free + timedelta(seconds=seconds[node][at]), opens) + timedelta(
            seconds=stop.service_s
        )
        node = at
    gaps.append((free, agent.shift_end - timedelta(seconds=seconds[node][end_node])))
    return [(a, b) for a, b in gaps if b > a]
