"""A solved day into rows: the plan (superseding the day's active one) and its stops."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.security import Principal
from backend.db.models import Plan, PlanStop
from backend.live.feed import entry
from backend.roads.services import networks, route_line
from routing import plan as planner
from routing.travel import GeoPoint, TravelMode, TravelTimes


async def store_plan(
    session: AsyncSession,
    p: Principal,
    agent_plan: planner.AgentPlan,
    dropped: Sequence[planner.DroppedStop],
    result: planner.PlanResult,
    day: date,
    inputs: dict[str, Any],
    team_id: uuid.UUID | None = None,
    kept: Sequence[PlanStop] = (),
    revision: int = 1,
    mode: TravelMode = TravelMode.CAR,
    travel: TravelTimes | None = None,
) -> Plan:
    """``travel``: the provider the plan was made with, to draw its route along the streets."""
    route: Sequence[GeoPoint] = agent_plan.path
    if result.travel != "straight_line" and len(agent_plan.path) > 1:
        # The line along the streets (straight segments where the network cannot answer).
        line = await asyncio.to_thread(
            route_line, travel or networks.travel(), list(agent_plan.path), mode
        )
        route = line.points
    agent_id = uuid.UUID(agent_plan.agent_id)
    await session.execute(
        update(Plan)
        .where(
            Plan.tenant_id == p.tenant_id,
            Plan.agent_id == agent_id,
            Plan.plan_date == day,
            Plan.status == "active",
        )
        .values(status="superseded")
    )
    coords = ", ".join(f"{pt.lon} {pt.lat}" for pt in route)
    plan = Plan(
        tenant_id=p.tenant_id,
        agent_id=agent_id,
        plan_date=day,
        revision=revision,
        status="active",
        team_id=team_id,
        created_by=p.id,
        depart_at=agent_plan.depart,
        arrive_at=agent_plan.arrive,
        travel_s=agent_plan.travel_s,
        wait_s=agent_plan.wait_s,
        service_s=agent_plan.service_s,
        distance_m=agent_plan.distance_m,
        score=sum(s.score for s in agent_plan.stops if s.kind is planner.StopKind.OPTIONAL),
        solve_ms=result.solve_ms,
        strategy=result.strategy,
        travel=result.travel,
        travel_note=result.travel_note,
        route=f"SRID=4326;LINESTRING({coords})",
        lunch=_lunch(agent_plan),
        dropped=[
            {
                "customer_id": d.stop_id,
                "kind": d.kind.value,
                "reason": d.reason.value,
                "detail": d.detail,
            }
            for d in dropped
        ],
        inputs=inputs,
    )
    session.add(plan)
    await session.flush()
    session.add_all(_stops(plan, kept, agent_plan.stops))
    told = _told(plan, inputs, len(agent_plan.stops))
    session.add(entry(p.tenant_id, "plan_changed", told, agent_id=agent_id))
    await session.flush()
    return plan


def _told(plan: Plan, inputs: dict[str, Any], stops: int) -> dict[str, Any]:
    """What the agent's app and the team's managers hear of a stored plan (backend/live/)."""
    return {
        "plan_id": str(plan.id),
        "day": plan.plan_date.isoformat(),
        "revision": plan.revision,
        "reason": "replanned" if plan.revision > 1 else "planned",
        "stops": stops,
        "urgent": inputs.get("urgent", []),
    }


def _stops(
    plan: Plan, kept: Sequence[PlanStop], planned: Sequence[planner.PlannedStop]
) -> list[PlanStop]:
    """The new plan's stops in order: those kept from the revision before (done, whatever
    their status said), then the planned ones."""
    stops = [
        PlanStop(
            tenant_id=plan.tenant_id,
            plan_id=plan.id,
            seq=seq,
            customer_id=old.customer_id,
            kind=old.kind,
            arrival_at=old.arrival_at,
            start_at=old.start_at,
            departure_at=old.departure_at,
            travel_s=old.travel_s,
            wait_s=old.wait_s,
            distance_m=old.distance_m,
            score=old.score,
            status=old.status if old.status != "planned" else "done",
            visit_id=old.visit_id,
        )
        for seq, old in enumerate(kept, start=1)
    ]
    return stops + [
        PlanStop(
            tenant_id=plan.tenant_id,
            plan_id=plan.id,
            seq=seq,
            customer_id=uuid.UUID(s.stop_id),
            kind=s.kind.value,
            arrival_at=s.arrival,
            start_at=s.start,
            departure_at=s.departure,
            travel_s=s.travel_s,
            wait_s=s.wait_s,
            distance_m=s.distance_m,
            score=s.score,
            status="planned",
        )
        for seq, s in enumerate(planned, start=len(stops) + 1)
    ]


def _lunch(agent_plan: planner.AgentPlan) -> dict[str, str] | None:
    """The lunch as stored: its start and end, and why it is shorter or left out."""
    lunch: dict[str, str] = {}
    if agent_plan.lunch:
        lunch = {"start": agent_plan.lunch[0].isoformat(), "end": agent_plan.lunch[1].isoformat()}
    if agent_plan.lunch_note:
        lunch["note"] = agent_plan.lunch_note
    return lunch or None
