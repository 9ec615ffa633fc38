"""The tracking domain's relations for other domains' statements, where they must join its
rows in one statement (a set-based update): the tracking domain says what they hold."""

from __future__ import annotations


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
