"""The tracking domain's relations for other domains' statements, where they must join its
rows in one statement (a set-based update): the tracking domain says what they hold."""

from __future__ import annotations


def visits(*, standing: bool = True) -> str:
    """The visits, as a subquery to alias (every column of a visit); `standing`: only those
    not retracted (a retracted visit did not happen)."""
    where = " WHERE retracted_at IS NULL" if standing else ""
    return f"(SELECT * FROM visits{where})"  # noqa: S608 - one of two fixed conditions
