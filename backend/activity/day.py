"""An agent's day as it happened: the timeline of travel, idle time, visits and gaps in the
data from their points and visits, and the plan against what was done."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime, timedelta
from typing import Any

from backend.activity.schemas import PlanAgainstActual, PlannedStop, TimelineItem
from geofence.distance import haversine_m

ON_TIME = timedelta(minutes=60)  # a planned stop visited this close to its time is "done"
MOVING_M = 300.0  # a moving run shorter than this is idle, not travel
MOVING_MPS = 0.5  # points this fast apart (1.8 km/h) are moving
MIN_GAP = timedelta(minutes=1)


def path_m(track: list[tuple[datetime, float, float]]) -> float:
    return sum(haversine_m(a[1], a[2], b[1], b[2]) for a, b in itertools.pairwise(track))


def gap_items(
    track: list[tuple[datetime, float, float]], a: datetime, b: datetime
) -> list[TimelineItem]:
    """Between two visits: runs of moving (travel) and still (idle) time from the points, or
    `no_data` where there are none. A pair of points is moving at MOVING_MPS or faster."""
    if b - a < MIN_GAP:
        return []
    pts = [p for p in track if a <= p[0] <= b]
    if len(pts) < 2:
        return [TimelineItem(kind="no_data", start=a, end=b, duration_s=s_between(a, b))]
    runs: list[list[Any]] = []  # [moving, start, end, metres]
    for p, q in itertools.pairwise(pts):
        metres = haversine_m(p[1], p[2], q[1], q[2])
        seconds = (q[0] - p[0]).total_seconds()
        moving = seconds > 0 and metres / seconds >= MOVING_MPS
        if runs and runs[-1][0] == moving:
            runs[-1][2], runs[-1][3] = q[0], runs[-1][3] + metres
        else:
            runs.append([moving, p[0], q[0], metres])
    runs[0][1], runs[-1][2] = a, b
    out: list[TimelineItem] = []
    for moving, start, end, metres in runs:
        if end - start < MIN_GAP:
            continue
        kind = "travel" if moving and metres >= MOVING_M else "idle"
        if out and out[-1].kind == kind:
            out[-1].end, out[-1].distance_m = end, out[-1].distance_m + round(metres)
            out[-1].duration_s = s_between(out[-1].start, end)
            continue
        out.append(
            TimelineItem(
                kind=kind,
                start=start,
                end=end,
                duration_s=s_between(start, end),
                distance_m=round(metres),
            )
        )
    return out


def s_between(a: datetime, b: datetime) -> int:
    return int((b - a).total_seconds())


def day_timeline(
    track: list[tuple[datetime, float, float]],
    visits: list[Any],
    planned: set[Any],
    last: datetime,
) -> list[TimelineItem]:
    """Visits, and between them travel, idle time or no data."""
    items: list[TimelineItem] = []
    cursor = track[0][0] if track else None
    for v in visits:
        arrived = v["arrived_at"]
        departed = v["departed_at"] or max(arrived, min(last, track[-1][0] if track else arrived))
        if cursor is not None and arrived > cursor:
            items += gap_items(track, cursor, arrived)
        items.append(
            TimelineItem(
                kind="visit",
                start=arrived,
                end=departed,
                duration_s=s_between(arrived, departed),
                visit_id=v["id"],
                customer_id=v["customer_id"],
                customer_name=v["customer_name"],
                place_id=v["place_id"],
                source=v["source"],
                outcome=v["outcome"],
                planned=v["customer_id"] in planned if v["customer_id"] else False,
                lat=v["lat"],
                lon=v["lon"],
            )
        )
        cursor = max(cursor, departed) if cursor else departed
    if track and cursor is not None and track[-1][0] > cursor:
        items += gap_items(track, cursor, track[-1][0])
    return items


def plan_against(
    plan_id: uuid.UUID | None, stops: list[Any], visits: list[Any], day_over: bool
) -> PlanAgainstActual:
    """Each planned stop done (visited within an hour of its time), moved (visited at
    another time), skipped or pending; visits to customers not in the plan are unplanned."""
    by_customer: dict[Any, list[Any]] = {}
    for v in visits:
        if v["customer_id"] is not None:
            by_customer.setdefault(v["customer_id"], []).append(v)
    out: list[PlannedStop] = []
    for s in stops:
        planned = {
            "seq": s["seq"],
            "customer_id": s["customer_id"],
            "customer_name": s["customer_name"],
            "planned_at": s["start_at"],
        }
        seen = by_customer.get(s["customer_id"], [])
        if not seen:
            out.append(PlannedStop(**planned, status="skipped" if day_over else "pending"))
            continue
        v = min(seen, key=lambda v: abs(v["arrived_at"] - s["start_at"]))
        delay = v["arrived_at"] - s["start_at"]
        out.append(
            PlannedStop(
                **planned,
                status="done" if abs(delay) <= ON_TIME else "moved",
                visit_id=v["id"],
                arrived_at=v["arrived_at"],
                delay_min=round(delay.total_seconds() / 60),
            )
        )
    planned_ids = {s["customer_id"] for s in stops}
    unplanned = [v["id"] for v in visits if v["customer_id"] not in planned_ids]
    count = {
        k: sum(1 for o in out if o.status == k) for k in ("done", "moved", "skipped", "pending")
    }
    return PlanAgainstActual(
        plan_id=plan_id,
        planned=len(out),
        done=count["done"],
        moved=count["moved"],
        skipped=count["skipped"],
        pending=count["pending"],
        unplanned=len(unplanned),
        adherence=round((count["done"] + count["moved"]) / len(out), 3) if out else None,
        stops=out,
        unplanned_visits=unplanned,
    )
