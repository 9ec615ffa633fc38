"""Scoring detected visits against the true ones (`score`), and a scenario's figures for
`fieldsense eval visits` (`figures`): a detected visit matches a true one when it is the same
agent at the same customer and the two overlap in time (each matched once)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from simulators.field import ts


@dataclass
class Score:
    precision: float
    recall: float
    f1: float
    flaps: int
    agents: int
    true_visits: int
    detected_visits: int
    matched: int
    flaps_by_kind: dict[str, int] = field(default_factory=dict)
    # True stays seen as more than one visit (the extra ones): at the same customer
    # (fragments), and by any visits, whatever their source or customer (duplicate_visits).
    fragments: int = 0
    duplicate_visits: int = 0
    # Fence entries while the agent was on no true stay at all (driving past).
    pass_through_entries: int = 0


def figures(s: Score, pass_through_entries: int, **extra: Any) -> dict[str, Any]:
    """A scenario's figures for `eval visits`: those of the summary, and the counts."""
    return {
        "precision": s.precision,
        "recall": s.recall,
        "flaps": s.flaps,
        "fragments": s.fragments,
        "duplicate_visits": s.duplicate_visits,
        "pass_through_entries": pass_through_entries,
        "true_visits": s.true_visits,
        "detected_visits": s.detected_visits,
        "matched": s.matched,
        **extra,
    }


def score(
    truth: list[dict[str, Any]],
    detected: list[dict[str, Any]],
    events: list[dict[str, Any]],
    agents: int,
) -> Score:
    """Precision and recall of detected visits against true ones, and flaps.

    A flap is an enter / exit pair at a customer's fence that is not a true visit: it overlaps
    no true visit of that agent to that customer (counted `next_door` when the agent was truly
    visiting another customer then, `other` otherwise), or it breaks one stay in two (the same
    fence entered again within ten minutes of the exit: `broken_stay`)."""
    matched = _matched(truth, detected)
    precision = matched / len(detected) if detected else 1.0
    recall = matched / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    flaps = _flaps(truth, events)
    duplicates, fragments = _seen_twice(truth, detected)
    passing = sum(
        1
        for e in events
        if e["kind"] == "entered"
        and e.get("fence_id")
        and e.get("customer_id")
        and not _during_true(
            truth, e.get("user_id") or "", ts(e["occurred_at"]), ts(e["occurred_at"]), None
        )
    )
    return Score(
        fragments=fragments,
        duplicate_visits=duplicates,
        pass_through_entries=passing,
        precision=round(precision, 4),
        recall=round(recall, 4),
        f1=round(f1, 4),
        flaps=sum(flaps.values()),
        flaps_by_kind=flaps,
        agents=agents,
        true_visits=len(truth),
        detected_visits=len(detected),
        matched=matched,
    )


def _matched(truth: list[dict[str, Any]], detected: list[dict[str, Any]]) -> int:
    """Detected visits matched one to one, in time order, to the true visit of the same
    agent and customer they overlap most."""
    used: set[int] = set()
    matched = 0
    for v in sorted(detected, key=lambda v: v["arrived_at"]):
        a0 = ts(v["arrived_at"])
        a1 = ts(v["departed_at"]) if v["departed_at"] else a0 + 60
        best, best_overlap = None, 0.0
        for k, t in enumerate(truth):
            if k in used or t["agent_id"] != v["agent_id"] or t["customer_id"] != v["customer_id"]:
                continue
            overlap = min(a1, ts(t["departed_at"])) - max(a0, ts(t["arrived_at"]))
            if overlap > best_overlap:
                best, best_overlap = k, overlap
        if best is not None:
            used.add(best)
            matched += 1
    return matched


def _during_true(
    truth: list[dict[str, Any]], agent: str, a: float, b: float, customer: str | None
) -> bool:
    """Whether the agent was truly visiting (`customer`, or anyone) within ten minutes of
    the span a..b."""
    return any(
        t["agent_id"] == agent
        and (customer is None or t["customer_id"] == customer)
        and ts(t["arrived_at"]) - 600 <= b
        and ts(t["departed_at"]) + 600 >= a
        for t in truth
    )


def _flaps(truth: list[dict[str, Any]], events: list[dict[str, Any]]) -> dict[str, int]:
    """Flaps at customers' fences, by kind (score's docstring)."""
    flaps = {"broken_stay": 0, "next_door": 0, "other": 0}
    by_fence: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for e in events:
        if e["kind"] in ("entered", "exited") and e.get("fence_id") and e.get("customer_id"):
            by_fence.setdefault((e["device_id"], e["fence_id"]), []).append(e)
    for evs in by_fence.values():
        evs.sort(key=lambda e: e["occurred_at"])
        last_exit: float | None = None
        start = 0.0
        for e in evs:
            if e["kind"] == "entered":
                if last_exit is not None and ts(e["occurred_at"]) - last_exit < 600:
                    flaps["broken_stay"] += 1
                start = ts(e["occurred_at"])
                continue
            last_exit = ts(e["occurred_at"])
            agent = e.get("user_id") or ""
            if _during_true(truth, agent, start, last_exit, e["customer_id"]):
                continue
            # Inside a neighbour's fence while truly visiting next door (overlapping fences in
            # one building), or anything else (a transit, a reflection).
            key = "next_door" if _during_true(truth, agent, start, last_exit, None) else "other"
            flaps[key] += 1
    return flaps


def _seen_twice(truth: list[dict[str, Any]], detected: list[dict[str, Any]]) -> tuple[int, int]:
    """(duplicates, fragments): each detected visit belongs to the true stay of its agent it
    overlaps most (if any); a stay with more than one is seen more than once, and one with
    more than one at its own customer is in fragments."""
    owned: dict[int, list[dict[str, Any]]] = {}
    for v in detected:
        a0 = ts(v["arrived_at"])
        a1 = ts(v["departed_at"]) if v["departed_at"] else a0 + 60
        best, best_overlap = None, 0.0
        for k, t in enumerate(truth):
            if t["agent_id"] != v["agent_id"]:
                continue
            overlap = min(a1, ts(t["departed_at"])) - max(a0, ts(t["arrived_at"]))
            if overlap > best_overlap:
                best, best_overlap = k, overlap
        if best is not None:
            owned.setdefault(best, []).append(v)
    duplicates = sum(len(vs) - 1 for vs in owned.values())
    fragments = sum(
        max(0, sum(v["customer_id"] == truth[k]["customer_id"] for v in vs) - 1)
        for k, vs in owned.items()
    )
    return duplicates, fragments
