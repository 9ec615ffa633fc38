"""What a re-plan changes in a day's inputs."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from backend.db.models import PlanStop
from backend.errors import Invalid
from backend.plans.schemas import AppointmentIn, ReplanIn, VisitIn


def check_in_plan(data: ReplanIn, stops: Sequence[PlanStop], inputs: dict[str, Any]) -> None:
    """Every customer said cancelled or done is one the plan has (a 422 naming the entry)."""
    known = (
        {s.customer_id for s in stops}
        | {uuid.UUID(p["customer_id"]) for p in inputs["prospects"]}
        | {uuid.UUID(a["customer_id"]) for a in inputs["appointments"]}
        | {uuid.UUID(m["customer_id"]) for m in inputs["must_visit"]}
    )
    for name, ids in (("cancelled", data.cancelled), ("done", data.done)):
        for i, cid in enumerate(ids):
            if cid not in known:
                raise Invalid(f"customer {cid} is not in this plan", field=f"{name}[{i}]")


def revised(
    inputs: dict[str, Any], data: ReplanIn, urgent_info: dict[uuid.UUID, dict[str, Any]]
) -> tuple[list[AppointmentIn], list[VisitIn], list[dict[str, Any]]]:
    """The day's appointments, must-visits and prospects as the re-plan asks: the cancelled
    gone, the urgent in (an appointment when it has a time, a must-visit otherwise), the
    added prospects in (from `urgent_info`, the customers they name)."""
    cancelled = set(data.cancelled)
    appointments = [
        AppointmentIn.model_validate(a)
        for a in inputs["appointments"]
        if uuid.UUID(a["customer_id"]) not in cancelled
    ]
    must = [
        VisitIn.model_validate(m)
        for m in inputs["must_visit"]
        if uuid.UUID(m["customer_id"]) not in cancelled
    ]
    for u in data.urgent:
        if u.start is not None:
            appointments.append(
                AppointmentIn(customer_id=u.customer_id, start=u.start, service_min=u.service_min)
            )
        else:
            must.append(VisitIn(customer_id=u.customer_id, service_min=u.service_min))
    replaced = cancelled | {u.customer_id for u in data.urgent} | {a.customer_id for a in data.add}
    prospects = [p for p in inputs["prospects"] if uuid.UUID(p["customer_id"]) not in replaced]
    for a in data.add:
        c = urgent_info[a.customer_id]
        prospects.append(
            {"customer_id": str(a.customer_id), "lat": c["lat"], "lon": c["lon"],
             "score": a.score, "service_min": a.service_min, "segment": c["segment"],
             "hours": c["hours"]}
        )  # fmt: skip
    return appointments, must, prospects
