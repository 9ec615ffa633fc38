"""The eval's scoring on hand-made days: matches, fragments, duplicates, pass-throughs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from simulators.score import score

T0 = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def stay(customer: str, a: float, b: float, agent: str = "ag") -> dict[str, Any]:
    return {"agent_id": agent, "customer_id": customer, "arrived_at": at(a), "departed_at": at(b)}


def entered(customer: str, minute: float) -> dict[str, Any]:
    return {
        "kind": "entered",
        "fence_id": f"fence-{customer}",
        "customer_id": customer,
        "device_id": "dev",
        "user_id": "ag",
        "occurred_at": at(minute),
    }


def test_one_stay_one_visit() -> None:
    s = score([stay("A", 0, 30)], [stay("A", 1, 29)], [], 1)
    assert (s.precision, s.recall, s.fragments, s.duplicate_visits) == (1.0, 1.0, 0, 0)


def test_a_stay_split_in_two_is_a_fragment_and_a_duplicate() -> None:
    s = score([stay("A", 0, 30)], [stay("A", 0, 8), stay("A", 10, 30)], [], 1)
    assert (s.matched, s.fragments, s.duplicate_visits) == (1, 1, 1)
    assert s.precision == 0.5


def test_a_neighbour_seen_during_the_stay_is_a_duplicate_not_a_fragment() -> None:
    s = score([stay("A", 0, 30)], [stay("A", 0, 30), stay("B", 5, 25)], [], 1)
    assert (s.fragments, s.duplicate_visits) == (0, 1)


def test_a_visit_that_runs_into_the_next_stay_belongs_to_its_own() -> None:
    truth = [stay("A", 0, 30), stay("B", 32, 60)]
    s = score(truth, [stay("A", 0, 33), stay("B", 33, 60)], [], 1)
    assert (s.matched, s.duplicate_visits) == (2, 0)


def test_entries_far_from_any_stay_are_pass_throughs() -> None:
    events = [entered("A", 5), entered("C", 90)]  # at A during the stay; C an hour later
    s = score([stay("A", 0, 30)], [stay("A", 0, 30)], events, 1)
    assert s.pass_through_entries == 1
