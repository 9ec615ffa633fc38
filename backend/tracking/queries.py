"""The tracking domain's relations for other domains' statements, where they must join its
rows in one statement (a set-based update): the tracking domain says what they hold."""

from __future__ import annotations


def visits(*, standing: bool = True) -> str:
    """The visits, as a subquery to alias (every column of a visit); `standing`: only those
    not retracted (a retracted visit did not happen)."""
    where = " WHERE retracted_at IS NULL" if standing else ""
    return f"(SELECT * FROM visits{where})"  # noqa: S608 - one of two fixed conditions


def events(*, standing: bool = True) -> str:
    """The events, as a subquery to alias; `standing`: only those not retracted by a replay."""
    where = " WHERE retracted_at IS NULL" if standing else ""
    return f"(SELECT * FROM events{where})"  # noqa: S608 - one of two fixed conditions


def kept_points() -> str:
    """The points that count (not flagged by the filters: duplicates, jumps, mock...), as a
    subquery to alias (`tenant_id`, `device_id`, `fix_time`, `lat`, `lon`, `accuracy_m`)."""
    return (
        "(SELECT tenant_id, device_id, fix_time, lat, lon, accuracy_m FROM pings"
        " WHERE flag IS NULL)"
    )
