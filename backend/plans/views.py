"""A stored plan as the API shows it, its explanations in the caller's language (stored in
English, translated as read: backend/i18n)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from backend.db.models import Plan
from backend.i18n import tr, tr_opt
from backend.plans.schemas import DroppedOut, PlanOut, PlanStopOut


def plan_out(plan: Plan, rows: Sequence[Any], route: str | None) -> PlanOut:
    """`rows`: its stops with their customers' names, in order; `route`: its GeoJSON."""
    stops = [
        PlanStopOut(
            seq=s.seq,
            customer_id=s.customer_id,
            customer_name=name,
            kind=s.kind,
            arrival_at=s.arrival_at,
            start_at=s.start_at,
            departure_at=s.departure_at,
            travel_s=s.travel_s,
            wait_s=s.wait_s,
            distance_m=s.distance_m,
            score=s.score,
            status=s.status,
            visit_id=s.visit_id,
        )
        for s, name in rows
    ]
    return PlanOut(
        id=plan.id,
        agent_id=plan.agent_id,
        plan_date=plan.plan_date,
        revision=plan.revision,
        status=plan.status,
        team_id=plan.team_id,
        created_at=plan.created_at,
        depart_at=plan.depart_at,
        arrive_at=plan.arrive_at,
        travel_s=plan.travel_s,
        wait_s=plan.wait_s,
        service_s=plan.service_s,
        distance_m=plan.distance_m,
        score=plan.score,
        solve_ms=plan.solve_ms,
        strategy=plan.strategy,
        travel=plan.travel,
        travel_note=tr_opt(plan.travel_note),
        lunch=(
            {k: datetime.fromisoformat(plan.lunch[k]) for k in ("start", "end")}
            if plan.lunch and "start" in plan.lunch
            else None
        ),
        lunch_note=tr_opt((plan.lunch or {}).get("note")),
        stops=stops,
        dropped=[DroppedOut.model_validate({**d, "detail": tr(d["detail"])}) for d in plan.dropped],
        route=json.loads(route) if route else {"type": "LineString", "coordinates": []},
        shaped_by=[uuid.UUID(n) for n in (plan.inputs or {}).get("coaching_notes", [])],
    )
