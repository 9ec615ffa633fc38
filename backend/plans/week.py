"""Week plans: an agent's working week planned whole (routing/week.py), stored as the day
plans it makes.

The week runs Monday to Sunday in the agent's time zone. Its working days are those that are
not off (the profile's weekdays and time off, the tenant's public holidays) and not past. Into
them go the agent's stored appointments of the week, each on its own day; the customers of
the agent's book whose cadence (their own, else their segment's from the tenant's settings)
falls due by the week's end, on the days it allows; and prospects chosen as for a day plan,
in the gaps. Each working day's plan is stored as any plan is (the nightly plan then finds
the day planned and keeps it; a re-plan starts from it); the week keeps which plan each day
is, why the other days are off, and the due customers and appointments it left out.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from backend.common.cadence import Cadence
from backend.db.base import uuid7
from backend.db.models import Customer, Plan, User, WeekPlan
from backend.errors import Invalid, NotFound
from backend.i18n import N_, tr, tr_opt
from backend.plans.pool import planner_pool
from backend.plans.problem import agent_of, local_time, preferred_windows, stops_of
from backend.plans.schemas import (
    AgentProfileIn,
    AppointmentIn,
    LeftOutOut,
    PlanOptionsIn,
    TeamWeekOut,
    VisitIn,
    WeekDayOut,
    WeekPlanCreate,
    WeekPlanOut,
)
from backend.plans.services import PlanService
from backend.plans.store import store_plan
from backend.tenants.calendar import day_off
from routing import plan as planner
from routing.travel import GeoPoint
from routing.week import DueVisit, Week, WeekResult, WorkDay, plan_week

DUE_SERVICE_MIN = 30  # a cadence visit, as long as a prospect's


class WeekPlanService(PlanService):
    async def plan_weeks(self, data: WeekPlanCreate) -> TeamWeekOut:
        if (data.agent_id is None) == (data.org_unit_id is None):
            raise Invalid("give agent_id or org_unit_id", field="agent_id")
        today = datetime.now(ZoneInfo("UTC")).date()
        if data.week_start + timedelta(days=6) < today - timedelta(days=1):
            raise Invalid("the week is over", field="week_start")
        self._check_date(max(data.week_start, today), "week_start")
        if data.agent_id is not None:
            user = await self.require_agent(data.agent_id, "agent_id")
            profile = await self._profile(user.id)
            if profile is None:
                raise Invalid(
                    "the agent has no planning profile: PUT /agents/{id}/profile",
                    field="agent_id",
                )
            agents, skipped = [(user, profile)], list[uuid.UUID]()
        else:
            assert data.org_unit_id is not None
            _, agents, skipped = await self._team(data.org_unit_id)
        weeks = [await self._week(user, profile, data) for user, profile in agents]
        return TeamWeekOut(weeks=weeks, skipped_agents=skipped)

    async def _week(self, user: User, profile: AgentProfileIn, data: WeekPlanCreate) -> WeekPlanOut:
        tz = ZoneInfo(profile.timezone)
        settings = await self._tenant_settings()
        monday = data.week_start
        today = datetime.now(tz).date()
        started = await self.session.scalar(
            select(Plan.id).where(
                Plan.tenant_id == self.p.tenant_id,
                Plan.agent_id == user.id,
                Plan.plan_date == today,
                Plan.status == "active",
            )
        )
        off: dict[date, str] = {}
        working: list[date] = []
        for k in range(7):
            d = monday + timedelta(days=k)
            why = N_("past") if d < today else None
            if d == today and started is not None:
                why = N_("today is planned already: re-plan it (POST /plans/{id}/replan)")
            why = why or day_off(d, profile.workdays, settings.holiday_country, profile.days_off())
            if why:
                off[d] = why
            else:
                working.append(d)
        since = datetime(monday.year, monday.month, monday.day, tzinfo=tz)
        until = since + timedelta(days=7)
        booked = await self._booked([user.id], max(since, datetime.now(tz)), until)
        appointments = stops_of(monday, tz, booked.appointments, [], [], booked.info)
        due = await self._due(user, tz, working, monday, set(booked.pins))
        # Customers due this week are that; the others may be chosen as prospects.
        sunday = monday + timedelta(days=6)
        named = [*booked.pins, *(uuid.UUID(v.stop.id) for v in due if v.due <= sunday)]
        opts = PlanOptionsIn(
            max_prospects=data.max_prospects, prospect_radius_m=data.prospect_radius_m
        )
        cands = await self._chosen([(user, profile)], opts, named, None)
        prospects = [
            planner.Stop(
                id=c["customer_id"],
                location=GeoPoint(c["lat"], c["lon"]),
                service_s=int(c["service_min"]) * 60,
                windows=tuple(w for d in working for w in preferred_windows(c["hours"], d, tz)),
                score=float(c["score"]),
                segment=c["segment"],
            )
            for c in cands
        ]
        week = Week(
            days=tuple(WorkDay(d, agent_of(profile, user.id, d)) for d in working),
            until=sunday,
            appointments=tuple(appointments),
            due=tuple(due),
            prospects=tuple(prospects),
        )
        options = planner.Options(
            time_limit_s=await self._time_limit(data.time_limit_s), solution_limit=None
        )
        travel = await self.travel()
        try:
            result = await asyncio.to_thread(plan_week, week, options, travel, planner_pool())
        except planner.ProblemError as exc:
            raise Invalid(exc.message, field="profile") from exc
        return await self._store(user, profile, week, result, off, booked.appointments, cands)

    async def _due(
        self,
        user: User,
        tz: ZoneInfo,
        working: list[date],
        monday: date,
        booked: set[uuid.UUID],
    ) -> list[DueVisit]:
        """The agent's customers with a cadence, as the week sees them (those with an
        appointment this week have it instead)."""
        segments = (await self._tenant_settings()).cadences
        rows = await self.fulfilment.cadenced(
            self.session, self.p.tenant_id, user.id, list(segments)
        )
        out = []
        for r in rows:
            if r["id"] in booked:
                continue
            own = r["cadence"]
            cadence = Cadence.model_validate(own) if own else segments[r["life_stage"] or "unknown"]
            last: datetime | None = r["last_seen"]
            interval = cadence.interval_days
            due = last.astimezone(tz).date() + timedelta(days=interval) if last else monday
            if cadence.start and cadence.end:
                start = datetime.strptime(cadence.start, "%H:%M").time()
                end = datetime.strptime(cadence.end, "%H:%M").time()
                windows = tuple((local_time(d, start, tz), local_time(d, end, tz)) for d in working)
            else:
                windows = tuple(
                    w for d in working for w in preferred_windows(r["preferred_hours"], d, tz)
                )
            out.append(
                DueVisit(
                    planner.Stop(
                        id=str(r["id"]),
                        location=GeoPoint(r["lat"], r["lon"]),
                        service_s=DUE_SERVICE_MIN * 60,
                        kind=planner.StopKind.MUST,
                        windows=windows,
                        segment=r["life_stage"],
                    ),
                    due=due,
                    interval_days=interval,
                    weekdays=tuple(cadence.weekdays),
                )
            )
        return out

    async def _store(
        self,
        user: User,
        profile: AgentProfileIn,
        week: Week,
        result: WeekResult,
        off: dict[date, str],
        appointments: list[AppointmentIn],
        cands: list[dict[str, Any]],
    ) -> WeekPlanOut:
        """The week's day plans stored (each superseding the day's plan), and the week
        (superseding the agent's plan of the same week)."""
        week_id = uuid7()
        monday = week.until - timedelta(days=6)
        travel = await self.travel()
        due_of = {v.stop.id: v.due for v in week.due if v.due <= week.until}  # this week's
        by_prospect = {c["customer_id"]: c for c in cands}
        days: list[dict[str, Any]] = []
        for dp in result.days:
            ids = [s.stop_id for s in dp.plan.stops]
            zone = ZoneInfo(profile.timezone)
            # All of the day's appointments, kept or not: the nightly job compares them with
            # the stored ones, and re-plans the day only when those changed.
            on_day = [a for a in appointments if a.start.astimezone(zone).date() == dp.day]
            inputs = _day_inputs(profile, ids, on_day, due_of, by_prospect, week_id)
            one = planner.PlanResult(
                agents=(replace(dp.plan, agent_id=str(user.id)),),
                dropped=(),
                objective=0,
                score=0.0,
                solve_ms=result.solve_ms,
                strategy=result.strategy,
                travel=result.travel,
                travel_note=result.travel_note,
            )
            row = await store_plan(
                self.session,
                self.p,
                one.agents[0],
                (),
                one,
                dp.day,
                inputs,
                mode=profile.mode,
                travel=travel,
            )
            days.append({"date": dp.day.isoformat(), "plan_id": str(row.id), "off": None})
        days += [{"date": d.isoformat(), "plan_id": None, "off": why} for d, why in off.items()]
        days.sort(key=lambda d: d["date"])
        await self.session.execute(
            update(WeekPlan)
            .where(
                WeekPlan.tenant_id == self.p.tenant_id,
                WeekPlan.agent_id == user.id,
                WeekPlan.week_start == monday,
                WeekPlan.status == "active",
            )
            .values(status="superseded")
        )
        stored = WeekPlan(
            tenant_id=self.p.tenant_id,
            id=week_id,
            agent_id=user.id,
            week_start=monday,
            status="active",
            created_by=self.p.id,
            days=days,
            left_out=_left_out(result, due_of),
            due=result.due,
            due_planned=result.due_planned,
            travel_s=result.travel_s,
            solve_ms=result.solve_ms,
        )
        self.session.add(stored)
        await self.session.flush()
        await self.session.refresh(stored)
        return await self._out(stored)

    # --- reads ------------------------------------------------------------------------
    async def _out(self, row: WeekPlan) -> WeekPlanOut:
        """The week as stored, each working day with the day's plan as it stands now (a
        re-plan's revision, once there is one)."""
        active = dict(
            (
                await self.session.execute(
                    select(Plan.plan_date, Plan.id).where(
                        Plan.tenant_id == row.tenant_id,
                        Plan.agent_id == row.agent_id,
                        Plan.status == "active",
                        Plan.plan_date >= row.week_start,
                        Plan.plan_date < row.week_start + timedelta(days=7),
                    )
                )
            ).all()
        )
        ids = [uuid.UUID(x["customer_id"]) for x in row.left_out]
        names = {
            str(cid): name
            for cid, name in await self.session.execute(
                select(Customer.id, Customer.name).where(
                    Customer.tenant_id == row.tenant_id, Customer.id.in_(ids)
                )
            )
        }
        days = []
        for d in row.days:
            day = date.fromisoformat(d["date"])
            plan_id = active.get(day) if d["plan_id"] else None
            days.append(
                WeekDayOut(
                    date=day,
                    plan=await self.read(plan_id) if plan_id else None,
                    off=tr_opt(d["off"]),
                )
            )
        return WeekPlanOut(
            id=row.id,
            agent_id=row.agent_id,
            week_start=row.week_start,
            status=row.status,
            created_at=row.created_at,
            days=days,
            left_out=[
                LeftOutOut.model_validate(
                    {**x, "detail": tr(x["detail"]), "customer_name": names.get(x["customer_id"])}
                )
                for x in row.left_out
            ],
            due=row.due,
            due_planned=row.due_planned,
            travel_s=row.travel_s,
            solve_ms=row.solve_ms,
        )

    async def get_week(self, week_id: uuid.UUID) -> WeekPlanOut:
        row = await self.session.scalar(
            self._visible(select(WeekPlan).where(WeekPlan.id == week_id), WeekPlan)
        )
        if row is None:
            raise NotFound("no such week plan")
        return await self._out(row)

    async def list_weeks(
        self, agent_id: uuid.UUID | None, week_start: date | None
    ) -> list[WeekPlanOut]:
        stmt = self._visible(select(WeekPlan).where(WeekPlan.status == "active"), WeekPlan)
        if agent_id is not None:
            stmt = stmt.where(WeekPlan.agent_id == agent_id)
        if week_start is not None:
            stmt = stmt.where(WeekPlan.week_start == week_start)
        rows = (
            await self.session.scalars(
                stmt.order_by(WeekPlan.week_start.desc(), WeekPlan.agent_id).limit(50)
            )
        ).all()
        return [await self._out(r) for r in rows]


def _day_inputs(
    profile: AgentProfileIn,
    ids: list[str],
    appointments: list[AppointmentIn],
    due_of: dict[str, date],
    by_prospect: dict[str, dict[str, Any]],
    week_id: uuid.UUID,
) -> dict[str, Any]:
    """What a week's day plan was made from, as a day plan keeps it (a re-plan starts from
    it): the day's stored appointments, its due customers as must-visits, its prospects."""
    return {
        "profile": profile.model_dump(mode="json"),
        "appointments": [a.model_dump(mode="json") for a in appointments],
        "must_visit": [
            VisitIn(customer_id=uuid.UUID(i), service_min=DUE_SERVICE_MIN).model_dump(mode="json")
            for i in ids
            if i in due_of
        ],
        "prospects": [by_prospect[i] for i in ids if i in by_prospect],
        "booked": [str(a.customer_id) for a in appointments],
        "coaching": None,
        "coaching_notes": [],
        "week_plan_id": str(week_id),
    }


def _left_out(result: WeekResult, due_of: dict[str, date]) -> list[dict[str, Any]]:
    """The appointments and due customers the week could not keep, with why."""
    return [
        {
            "customer_id": d.stop_id,
            "kind": d.kind.value,
            "reason": d.reason.value,
            "detail": d.detail,
            "due": due_of[d.stop_id].isoformat() if d.stop_id in due_of else None,
        }
        for d in result.dropped
        if d.kind is not planner.StopKind.OPTIONAL
    ]
