"""The tracking domain's relations for other domains' statements, where they must join its
rows in one statement (a set-based update): the tracking domain says what they hold."""

from __future__ import annotations

from functools import lru_cache

from backend.plans.fulfilment import Fulfilment
from backend.webhooks.outbox import EventSource


def visits() -> str:
    """The visits that stand (not retracted: a retracted visit did not happen), as a
    subquery to alias (every column of a visit)."""
    return "(SELECT * FROM visits WHERE retracted_at IS NULL)"


def events() -> str:
    """The events that stand (not retracted by a replay), as a subquery to alias."""
    return "(SELECT * FROM events WHERE retracted_at IS NULL)"


def kept_points() -> str:
    """The points that count (not flagged by the filters: duplicates, jumps, mock...), as a
    subquery to alias (`tenant_id`, `device_id`, `fix_time`, `lat`, `lon`, `accuracy_m`)."""
    return (
        "(SELECT tenant_id, device_id, fix_time, lat, lon, accuracy_m FROM pings"
        " WHERE flag IS NULL)"
    )


def webhook_events() -> EventSource:
    """Where the webhooks domain reads the events it sends: every event a delivery names
    (retracted ones too: what was recorded is what is carried), and the standing ones for a
    replay."""
    return EventSource(every="(SELECT * FROM events)", standing=events())


@lru_cache(maxsize=1)
def plan_fulfilment() -> Fulfilment:
    """The plans domain's fulfilment of planned stops, over the visits that stand."""
    return Fulfilment(visits())
