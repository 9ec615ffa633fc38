"""Plans: from profiles, appointments and candidates to routing problems, and back to rows.

The solver runs off the event loop: the problem is built and read back in a worker thread,
and the OR-Tools searches run in a process pool (``backend.plans.pool``).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.scope import require_agent, subtree_unit_ids
from backend.auth.security import Principal
from backend.coaching.services import coaching_for
from backend.db.base import uuid7
from backend.db.models import AgentProfile, Customer, Plan, PlanStop, User, WeekPlan
from backend.errors import Forbidden, Invalid, NotFound
from backend.i18n import tr
from backend.plans.fulfilment import Fulfilment
from backend.plans.inputs import PlanInputs
from backend.plans.pool import planner_pool
from backend.plans.problem import agent_of, coaching_of, stops_of
from backend.plans.replanning import check_in_plan, revised
from backend.plans.schemas import (
    AgentProfileIn,
    AgentProfileOut,
    AppointmentIn,
    CoachingIn,
    DroppedOut,
    PlanCreate,
    PlanOptionsIn,
    PlanOut,
    ProspectIn,
    ReplanIn,
    TeamPlanCreate,
    TeamPlanOut,
    VisitIn,
)
from backend.plans.store import store_plan
from backend.plans.views import plan_out
from backend.roads.services import networks
from backend.tenants.settings import MAX_PLAN_TIME_LIMIT_S
from routing import plan as planner
from routing.travel import GeoPoint, TravelTimes


class PlanService(PlanInputs):
    def __init__(self, session: AsyncSession, principal: Principal, fulfilment: Fulfilment) -> None:
        """`fulfilment`: the stops the visits fulfil (fulfilment.py; the app provides it)."""
        self.session = session
        self.p = principal
        self.fulfilment = fulfilment
        if principal.is_store_app:
            raise Forbidden("store apps have no access to plans")

    # --- access -----------------------------------------------------------------------
    async def require_agent(self, agent_id: uuid.UUID, field: str) -> User:
        return await require_agent(self.session, self.p, agent_id, field)

    def _visible(self, stmt: Any, model: type[Plan] | type[WeekPlan] = Plan) -> Any:
        """`stmt` over `model` (a day's or a week's plans) limited to what the caller may
        see: an agent their own, a manager their subtree's agents', an admin all."""
        stmt = stmt.where(model.tenant_id == self.p.tenant_id)
        if self.p.is_agent:
            return stmt.where(model.agent_id == self.p.id)
        if not self.p.is_admin:
            agents = select(User.id).where(
                User.tenant_id == self.p.tenant_id,
                User.org_unit_id.in_(subtree_unit_ids(self.p)),
            )
            return stmt.where(model.agent_id.in_(agents))
        return stmt

    # --- profiles ---------------------------------------------------------------------
    async def get_profile(self, user_id: uuid.UUID) -> AgentProfileOut:
        await self.require_agent(user_id, "user_id")
        row = await self.session.get(AgentProfile, (self.p.tenant_id, user_id))
        if row is None:
            raise NotFound("this agent has no planning profile yet")
        return AgentProfileOut(user_id=user_id, updated_at=row.updated_at, **row.settings)

    async def put_profile(self, user_id: uuid.UUID, data: AgentProfileIn) -> AgentProfileOut:
        await self.require_agent(user_id, "user_id")
        row = await self.session.get(AgentProfile, (self.p.tenant_id, user_id))
        settings = data.model_dump(mode="json")
        if row is None:
            row = AgentProfile(tenant_id=self.p.tenant_id, user_id=user_id, settings=settings)
            self.session.add(row)
        else:
            row.settings = settings
        await self.session.flush()
        await self.session.refresh(row)
        return AgentProfileOut(user_id=user_id, updated_at=row.updated_at, **settings)

    async def _profile(self, agent_id: uuid.UUID) -> AgentProfileIn | None:
        row = await self.session.get(AgentProfile, (self.p.tenant_id, agent_id))
        return AgentProfileIn.model_validate(row.settings) if row else None

    # --- solve and store --------------------------------------------------------------
    async def _solve(
        self,
        problem: planner.Problem,
        options: planner.Options,
        field_names: dict[str, str],
    ) -> planner.PlanResult:
        travel = await self.travel()
        try:
            return await asyncio.to_thread(
                planner.plan, problem, options, travel, None, planner_pool()
            )
        except planner.ProblemError as exc:
            field = exc.field
            for prefix, name in field_names.items():
                if field.startswith(prefix):
                    field = name + field[len(prefix) :]
                    break
            raise Invalid(exc.message, field=field) from exc

    # --- use cases --------------------------------------------------------------------
    async def travel(self) -> TravelTimes:
        """The provider this tenant plans with: its chosen one (`travel_provider`), else the
        server's (docs/routing.md)."""
        return networks.travel((await self._tenant_settings()).travel_provider)

    async def _time_limit(self, asked_s: float) -> float:
        """What a request may spend solving: what it asked, cut to the tenant's setting (itself
        never past the server's maximum, MAX_PLAN_TIME_LIMIT_S)."""
        settings = await self._tenant_settings()
        return min(asked_s, settings.plan_time_limit_s, MAX_PLAN_TIME_LIMIT_S)

    async def create(self, data: PlanCreate) -> PlanOut:
        agent = await self.require_agent(data.agent_id, "agent_id")
        self._check_date(data.date)
        profile = data.profile or await self._profile(data.agent_id)
        if profile is None:
            raise Invalid(
                "the agent has no planning profile: PUT /agents/{id}/profile or send one",
                field="profile",
            )
        plan = await self._plan_agents(
            [(agent, profile)],
            data.date,
            data,
            appointments=data.appointments,
            must=data.must_visit,
            prospects=data.prospects,
        )
        return plan[0][0]

    async def _plan_agents(
        self,
        agents: Sequence[tuple[User, AgentProfileIn]],
        day: date,
        opts: PlanOptionsIn,
        appointments: Sequence[AppointmentIn] = (),
        must: Sequence[VisitIn] = (),
        prospects: Sequence[ProspectIn] | None = None,
        team_id: uuid.UUID | None = None,
    ) -> tuple[list[PlanOut], list[DroppedOut]]:
        tz = ZoneInfo(agents[0][1].timezone)
        since = datetime(day.year, day.month, day.day, tzinfo=tz)
        booked = await self._booked(
            [u.id for u, _ in agents], since, since + timedelta(days=1), appointments
        )
        must = [m for m in must if m.customer_id not in booked.pins]
        prospects = prospects and [p for p in prospects if p.customer_id not in booked.pins]
        named = [
            (f"appointments[{i}].customer_id", a.customer_id) for i, a in enumerate(appointments)
        ]
        named += [(f"must_visit[{i}].customer_id", m.customer_id) for i, m in enumerate(must)]
        named += [
            (f"prospects[{i}].customer_id", p.customer_id) for i, p in enumerate(prospects or [])
        ]
        info = await self._customers(named) | booked.info
        appointments = [*appointments, *booked.appointments]
        seen: set[uuid.UUID] = set()
        for field, cid in named:
            if cid in seen:
                raise Invalid(f"customer {cid} is listed twice", field=field)
            seen.add(cid)
        coaching, notes = await coaching_for(
            self.session, self.p.tenant_id, [u.id for u, _ in agents], day, opts.coaching
        )
        if prospects is not None:
            cands = [_given(p, info[p.customer_id]) for p in prospects]
        else:
            cands = await self._chosen(agents, opts, [*seen, *booked.pins], coaching)
        stops = stops_of(day, tz, appointments, must, cands, info, booked.pins)
        problem = planner.Problem(
            agents=tuple(agent_of(profile, user.id, day) for user, profile in agents),
            stops=tuple(stops),
            coaching=coaching_of(coaching),
        )
        time_limit_s = await self._time_limit(opts.time_limit_s)
        options = planner.Options(time_limit_s=time_limit_s)
        result = await self._solve(problem, options, {"agents": "profile", "stops": "stops"})
        base_inputs = {
            "appointments": [a.model_dump(mode="json") for a in appointments],
            "must_visit": [m.model_dump(mode="json") for m in must],
            "prospects": cands,
            # Which appointments were the stored ones (the nightly job re-plans a day whose
            # stored appointments changed since: backend/plans/jobs.py).
            "booked": [str(c) for c in booked.pins],
            "coaching": coaching.model_dump(mode="json") if coaching else None,
            "coaching_notes": [str(n) for n in notes],
            "time_limit_s": time_limit_s,
        }
        out = await self._store_each(agents, result, day, base_inputs, team_id)
        dropped = [
            DroppedOut(
                customer_id=uuid.UUID(d.stop_id),
                kind=d.kind.value,
                reason=d.reason.value,
                detail=tr(d.detail),
            )
            for d in result.dropped
        ]
        return out, dropped

    async def _chosen(
        self,
        agents: Sequence[tuple[User, AgentProfileIn]],
        opts: PlanOptionsIn,
        named: list[uuid.UUID],
        coaching: CoachingIn | None,
    ) -> list[dict[str, Any]]:
        """Prospects chosen from the customer base near the first agent's start, best
        scored first (customers a coaching note boosts before all), bar those `named`."""
        start = agents[0][1].start
        rows = await self._candidates(
            [u.id for u, _ in agents],
            sorted({u.org_unit_id for u, _ in agents}),
            GeoPoint(start.lat, start.lon),
            opts.prospect_radius_m,
            opts.max_prospects,
            named,
            list(coaching.boost) if coaching else [],
        )
        ids = {str(u.id) for u, _ in agents}
        cands = []
        for r in rows:
            owner = r["territory_agent"] or r["assigned_agent_id"]
            cands.append(
                {
                    "customer_id": str(r["id"]),
                    "lat": r["lat"],
                    "lon": r["lon"],
                    "score": round(float(r["score"]), 2),
                    "service_min": 30,
                    "segment": r["life_stage"],
                    "hours": r["preferred_hours"],
                    # Territories bind only in team plans: a single agent's candidates
                    # already come from their own book.
                    "agents": [str(owner)]
                    if owner and len(agents) > 1 and str(owner) in ids
                    else None,
                }
            )
        return cands

    async def _store_each(
        self,
        agents: Sequence[tuple[User, AgentProfileIn]],
        result: planner.PlanResult,
        day: date,
        base_inputs: dict[str, Any],
        team_id: uuid.UUID | None,
    ) -> list[PlanOut]:
        """Each agent's plan stored, and read back; the stops left out go with a single
        agent's plan (a team's are the team's)."""
        by_agent_dropped: dict[str, list[planner.DroppedStop]] = {}
        if len(agents) == 1:
            by_agent_dropped[str(agents[0][0].id)] = list(result.dropped)
        out = []
        for user, profile in agents:
            agent_plan = next(p for p in result.agents if p.agent_id == str(user.id))
            inputs = {**base_inputs, "profile": profile.model_dump(mode="json")}
            row = await store_plan(
                self.session,
                self.p,
                agent_plan,
                by_agent_dropped.get(str(user.id), []),
                result,
                day,
                inputs,
                team_id=team_id,
                mode=profile.mode,
                travel=await self.travel(),
            )
            out.append(await self.read(row.id))
        return out

    async def team(self, data: TeamPlanCreate) -> TeamPlanOut:
        self._check_date(data.date)
        unit, with_profiles, skipped = await self._team(data.org_unit_id)
        team_id = uuid7()
        plans, dropped = await self._plan_agents(with_profiles, data.date, data, team_id=team_id)
        return TeamPlanOut(
            team_id=team_id,
            org_unit_id=unit.id,
            plan_date=data.date,
            plans=plans,
            dropped=dropped,
            skipped_agents=skipped,
        )

    async def replan(self, plan_id: uuid.UUID, data: ReplanIn) -> PlanOut:
        old = await self._load(plan_id)
        if old.status != "active":
            raise Invalid("only the active plan of a day can be re-planned", field="plan_id")
        await self.fulfilment.sync(self.session, self.p.tenant_id, [old.id])
        stops = (
            await self.session.scalars(
                select(PlanStop)
                .where(PlanStop.tenant_id == self.p.tenant_id, PlanStop.plan_id == old.id)
                .order_by(PlanStop.seq)
            )
        ).all()
        now = data.at or datetime.now(UTC)
        inputs = json.loads(json.dumps(old.inputs))
        profile = AgentProfileIn.model_validate(inputs["profile"])
        day = old.plan_date
        tz = ZoneInfo(profile.timezone)
        done_ids = {s.customer_id for s in stops if s.status in ("fulfilled", "done")}
        done_ids |= set(data.done)
        cancelled = set(data.cancelled)
        check_in_plan(data, stops, inputs)
        appointments, must, prospects, info = await self._revised(inputs, data)
        problem = planner.Problem(
            (agent_of(profile, old.agent_id, day),),
            tuple(stops_of(day, tz, appointments, must, prospects, info)),
            coaching_of(
                CoachingIn.model_validate(inputs["coaching"]) if inputs.get("coaching") else None
            ),
        )
        previous = [str(s.customer_id) for s in stops if s.customer_id not in cancelled]
        options = planner.Options(time_limit_s=await self._time_limit(data.time_limit_s))
        travel = await self.travel()
        try:
            result = await asyncio.to_thread(
                planner.replan,
                problem,
                str(old.agent_id),
                GeoPoint(data.position.lat, data.position.lon),
                now,
                previous,
                [str(c) for c in done_ids],
                options,
                travel,
            )
        except planner.ProblemError as exc:
            field = "at" if exc.field == "now" else exc.field
            raise Invalid(exc.message, field=field) from exc
        inputs.update(
            {
                "appointments": [a.model_dump(mode="json") for a in appointments],
                "must_visit": [m.model_dump(mode="json") for m in must],
                "prospects": prospects,
                "replanned_at": now.isoformat(),
                "urgent": [str(u.customer_id) for u in data.urgent],
            }
        )
        kept = [s for s in stops if s.customer_id in done_ids]
        row = await store_plan(
            self.session,
            self.p,
            result.agents[0],
            result.dropped,
            result,
            day,
            inputs,
            team_id=old.team_id,
            kept=kept,
            revision=old.revision + 1,
            mode=profile.mode,
            travel=travel,
        )
        return await self.read(row.id)

    async def _revised(
        self, inputs: dict[str, Any], data: ReplanIn
    ) -> tuple[list[AppointmentIn], list[VisitIn], list[dict[str, Any]], dict[uuid.UUID, Any]]:
        """The plan's inputs as the re-plan revises them (urgent visits and additions in,
        cancelled ones out: `revised`), and what is known of their customers: the ones
        added must be the caller's, the ones planned before stay as they were."""
        urgent_info = await self._customers(
            [(f"urgent[{i}].customer_id", u.customer_id) for i, u in enumerate(data.urgent)]
            + [(f"add[{i}].customer_id", a.customer_id) for i, a in enumerate(data.add)]
        )
        appointments, must, prospects = revised(inputs, data, urgent_info)
        info = await self._customers(
            [
                ("appointments", a.customer_id)
                for a in appointments
                if a.customer_id not in urgent_info
            ]
            + [("must_visit", m.customer_id) for m in must if m.customer_id not in urgent_info],
            scoped=False,
        )
        info.update(urgent_info)
        return appointments, must, prospects, info

    # --- reads ------------------------------------------------------------------------
    async def _load(self, plan_id: uuid.UUID) -> Plan:
        plan = await self.session.scalar(self._visible(select(Plan).where(Plan.id == plan_id)))
        if plan is None:
            raise NotFound("no such plan")
        return plan

    async def read(self, plan_id: uuid.UUID) -> PlanOut:
        plan = await self._load(plan_id)
        await self.fulfilment.sync(self.session, self.p.tenant_id, [plan.id])
        route = await self.session.scalar(
            select(func.ST_AsGeoJSON(Plan.route, 6)).where(
                Plan.tenant_id == plan.tenant_id, Plan.id == plan.id
            )
        )
        rows = await self.session.execute(
            select(PlanStop, Customer.name)
            .join(
                Customer,
                (Customer.tenant_id == PlanStop.tenant_id) & (Customer.id == PlanStop.customer_id),
            )
            .where(PlanStop.tenant_id == plan.tenant_id, PlanStop.plan_id == plan.id)
            .order_by(PlanStop.seq)
        )
        return plan_out(plan, list(rows), route)

    async def list(
        self, agent_id: uuid.UUID | None, day: date | None, include_superseded: bool
    ) -> list[PlanOut]:
        stmt = self._visible(select(Plan.id))
        if agent_id is not None:
            stmt = stmt.where(Plan.agent_id == agent_id)
        if day is not None:
            stmt = stmt.where(Plan.plan_date == day)
        if not include_superseded:
            stmt = stmt.where(Plan.status == "active")
        ids = (
            await self.session.scalars(
                stmt.order_by(Plan.plan_date.desc(), Plan.created_at.desc()).limit(100)
            )
        ).all()
        return [await self.read(i) for i in ids]


def _given(p: ProspectIn, info: dict[str, Any]) -> dict[str, Any]:
    """A prospect the caller gave, with its score, as the planner takes it."""
    return {
        "customer_id": str(p.customer_id),
        "lat": info["lat"],
        "lon": info["lon"],
        "score": p.score,
        "service_min": p.service_min,
        "segment": info["segment"],
        "hours": info["hours"],
    }
