"""Points as phones send them: the batch checked at once, or point by point where it must
be (each bad point rejected on its own, naming its field); times to the millisecond."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from pydantic import ValidationError

from backend.tracking.schemas import FastPoint, PointIn, PointResult
from geofence.types import Fix


def to_dt(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def ms(dt: datetime) -> float:
    """Epoch seconds rounded to the millisecond: the same number in Python and PostgreSQL."""
    return round(dt.timestamp(), 3)


@dataclass(slots=True)
class Parsed:
    point: PointIn | FastPoint
    fix: Fix


_FAST_POINTS = list[FastPoint]


# More than microseconds: msgspec rounds them, pydantic truncates; PointIn decides.
_SUB_MICROSECOND = re.compile(r"\.\d{7}")


def _checked(raw: list[Any]) -> list[FastPoint] | None:
    """The whole batch checked at once, when every point is well formed (the usual case)."""
    try:
        points = msgspec.convert(raw, _FAST_POINTS)
    except msgspec.ValidationError:
        return None
    if any(p.time is None and p.age_s is None for p in points):
        return None  # PointIn says which and why
    if any(isinstance(t := item.get("time"), str) and _SUB_MICROSECOND.search(t) for item in raw):
        return None
    return points


def parse_points(
    raw: list[Any], received: datetime
) -> tuple[list[Parsed], list[PointResult], dict[int, PointResult]]:
    """Each point on its own: good ones, their results, and the rejected by index."""
    good: list[Parsed] = []
    results: list[PointResult] = []
    rejected: dict[int, PointResult] = {}
    seen: set[str] = set()
    received_t = ms(received)
    fast = _checked(raw)
    checked: list[PointIn | FastPoint | None] = list(fast) if fast is not None else []
    if fast is None:
        for i, item in enumerate(raw):
            try:
                checked.append(PointIn.model_validate(item))
            except ValidationError as exc:
                cid = item.get("client_id") if isinstance(item, dict) else None
                err = exc.errors()[0]
                loc = ".".join(str(x) for x in err["loc"])
                rejected[i] = {
                    "client_id": str(cid) if cid is not None else None,
                    "status": "rejected",
                    "reason": err["msg"],
                    "field": f"points.{i}" + (f".{loc}" if loc else ""),
                }
                checked.append(None)
    for i, point in enumerate(checked):
        if point is None:
            results.append(rejected[i])
            continue
        cid = str(point.client_id)
        if cid in seen:
            results.append({"client_id": cid, "status": "duplicate", "reason": None, "field": None})
            continue
        seen.add(cid)
        when = received - timedelta(seconds=point.age_s) if point.age_s is not None else point.time
        assert when is not None
        fix = Fix(
            cid,
            ms(when),
            point.lat,
            point.lon,
            point.accuracy_m,
            point.speed_mps,
            point.mock,
            received_t,
        )
        good.append(Parsed(point, fix))
        results.append({"client_id": cid, "status": "accepted", "reason": None, "field": None})
    return good, results, rejected
