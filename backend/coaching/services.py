"""Coaching notes: who may write, read, reply and acknowledge; which actions bind a plan.

Visibility follows the org tree: a note on an agent is seen by the agent and by the
managers whose subtree holds the agent (and admins); a manager of a sibling branch sees
nothing of it (404). Managers and admins above the agent write notes; the agent and those
managers reply; only the agent acknowledges.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.scope import require_agent, subtree_unit_ids
from backend.auth.security import Principal
from backend.coaching.schemas import CoachingIn, NoteActions, NoteCreate, NoteOut, ReplyCreate
from backend.db.models import (
    Campaign,
    CampaignMember,
    CoachingNote,
    Plan,
    User,
    Visit,
)
from backend.errors import Forbidden, Invalid, NotFound
from backend.live.feed import entry

DEFAULT_DAYS = 7
MAX_RANGE_DAYS = 366


class CoachingService:
    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        if principal.is_store_app:
            raise Forbidden("store apps have no access to coaching notes")
        self.session = session
        self.p = principal

    def _agents_visible(self) -> Any:
        """Agents whose notes the caller may read: themselves, or their subtree's."""
        base = select(User.id).where(User.tenant_id == self.p.tenant_id, User.role == "agent")
        if self.p.is_agent:
            return base.where(User.id == self.p.id)
        if self.p.is_admin:
            return base
        return base.where(User.org_unit_id.in_(subtree_unit_ids(self.p)))

    async def _agent(self, agent_id: uuid.UUID, field: str) -> User:
        return await require_agent(self.session, self.p, agent_id, field)

    async def _note(self, note_id: uuid.UUID) -> CoachingNote:
        note = await self.session.scalar(
            select(CoachingNote).where(
                CoachingNote.tenant_id == self.p.tenant_id,
                CoachingNote.id == note_id,
                CoachingNote.agent_id.in_(self._agents_visible()),
            )
        )
        if note is None:
            raise NotFound(f"coaching note {note_id} not found", field="note_id")
        return note

    async def create(self, data: NoteCreate) -> NoteOut:
        if not (self.p.is_manager or self.p.is_admin):
            raise Forbidden("managers write coaching notes; agents reply to them")
        agent_id, day = data.agent_id, data.day
        if data.subject == "visit":
            if data.visit_id is None:
                raise Invalid("a note on a visit names the visit", field="visit_id")
            visit = await self.session.scalar(
                select(Visit).where(
                    Visit.tenant_id == self.p.tenant_id,
                    Visit.id == data.visit_id,
                    Visit.agent_id.in_(self._agents_visible()),
                )
            )
            if visit is None:
                raise Invalid(f"unknown visit {data.visit_id}", field="visit_id")
            agent_id, day = visit.agent_id, day or visit.arrived_at.date()
        elif data.subject == "plan":
            if data.plan_id is None:
                raise Invalid("a note on a plan names the plan", field="plan_id")
            plan = await self.session.scalar(
                select(Plan).where(
                    Plan.tenant_id == self.p.tenant_id,
                    Plan.id == data.plan_id,
                    Plan.agent_id.in_(self._agents_visible()),
                )
            )
            if plan is None:
                raise Invalid(f"unknown plan {data.plan_id}", field="plan_id")
            agent_id, day = plan.agent_id, plan.plan_date
        else:
            if agent_id is None:
                raise Invalid("a note on a day names the agent", field="agent_id")
            if day is None:
                raise Invalid("a note on a day names the day", field="day")
        assert agent_id is not None and day is not None
        await self._agent(agent_id, "agent_id")
        if data.agent_id is not None and data.agent_id != agent_id:
            raise Invalid("the visit or plan is another agent's", field="agent_id")
        applies_from = applies_until = None
        if data.actions is not None:
            await self._check_actions(data.actions)
            applies_from = data.applies_from or datetime.now(UTC).date()
            applies_until = data.applies_until or applies_from + timedelta(days=DEFAULT_DAYS)
            if applies_until < applies_from:
                raise Invalid("applies_until is before applies_from", field="applies_until")
        note = CoachingNote(
            tenant_id=self.p.tenant_id,
            agent_id=agent_id,
            author_id=self.p.id,
            subject=data.subject,
            day=day,
            visit_id=data.visit_id if data.subject == "visit" else None,
            plan_id=data.plan_id if data.subject == "plan" else None,
            body=data.body,
            actions=data.actions.model_dump(mode="json") if data.actions else None,
            applies_from=applies_from,
            applies_until=applies_until,
        )
        self.session.add(note)
        await self.session.flush()
        self._tell(note)
        await self.session.refresh(note)
        return (await self._out([note]))[0]

    def _tell(self, note: CoachingNote) -> None:
        """The note reaches the agent's app and the team's managers (backend/live/)."""
        told = {
            "note_id": str(note.id),
            "reply_to": str(note.parent_id) if note.parent_id else None,
            "subject": note.subject,
            "day": note.day.isoformat(),
            "author_id": str(note.author_id),
            "body": note.body,
            "has_actions": note.actions is not None,
        }
        self.session.add(entry(self.p.tenant_id, "coaching_note", told, agent_id=note.agent_id))

    async def _check_actions(self, actions: NoteActions) -> None:
        if actions.focus_campaign_id is not None:
            found = await self.session.scalar(
                select(Campaign.id).where(
                    Campaign.tenant_id == self.p.tenant_id,
                    Campaign.id == actions.focus_campaign_id,
                )
            )
            if found is None:
                raise Invalid("unknown campaign", field="actions.focus_campaign_id")

    async def reply(self, note_id: uuid.UUID, data: ReplyCreate) -> NoteOut:
        parent = await self._note(note_id)
        if parent.parent_id is not None:  # replies thread under the note itself
            parent = await self._note(parent.parent_id)
        note = CoachingNote(
            tenant_id=self.p.tenant_id,
            agent_id=parent.agent_id,
            author_id=self.p.id,
            parent_id=parent.id,
            subject=parent.subject,
            day=parent.day,
            visit_id=parent.visit_id,
            plan_id=parent.plan_id,
            body=data.body,
        )
        self.session.add(note)
        await self.session.flush()
        self._tell(note)
        await self.session.refresh(note)
        return (await self._out([note]))[0]

    async def acknowledge(self, note_id: uuid.UUID) -> NoteOut:
        note = await self._note(note_id)
        if note.agent_id != self.p.id:
            raise Forbidden("only the agent the note is about acknowledges it")
        if note.acknowledged_at is None:
            note.acknowledged_at = datetime.now(UTC)
            await self.session.flush()
        return await self.get(note.id)

    async def get(self, note_id: uuid.UUID) -> NoteOut:
        note = await self._note(note_id)
        if note.parent_id is not None:
            note = await self._note(note.parent_id)
        return (await self._out([note], with_replies=True))[0]

    async def find(
        self, agent_id: uuid.UUID | None, since: date | None, until: date | None
    ) -> list[NoteOut]:
        if since and until and (until - since).days > MAX_RANGE_DAYS:
            raise Invalid(f"at most {MAX_RANGE_DAYS} days at a time", field="until")
        stmt = select(CoachingNote).where(
            CoachingNote.tenant_id == self.p.tenant_id,
            CoachingNote.parent_id.is_(None),
            CoachingNote.agent_id.in_(self._agents_visible()),
        )
        if agent_id is not None:
            await self._agent(agent_id, "agent_id")
            stmt = stmt.where(CoachingNote.agent_id == agent_id)
        if since is not None:
            stmt = stmt.where(CoachingNote.day >= since)
        if until is not None:
            stmt = stmt.where(CoachingNote.day <= until)
        rows = list(
            await self.session.scalars(
                stmt.order_by(CoachingNote.created_at.desc(), CoachingNote.id.desc()).limit(500)
            )
        )
        return await self._out(rows, with_replies=True)

    async def _out(
        self, notes: Sequence[CoachingNote], with_replies: bool = False
    ) -> list[NoteOut]:
        replies: dict[uuid.UUID, list[CoachingNote]] = defaultdict(list)
        if with_replies and notes:
            for r in await self.session.scalars(
                select(CoachingNote)
                .where(
                    CoachingNote.tenant_id == self.p.tenant_id,
                    CoachingNote.parent_id.in_([n.id for n in notes]),
                )
                .order_by(CoachingNote.created_at, CoachingNote.id)
            ):
                replies[r.parent_id].append(r)  # type: ignore[index]
        authors = {n.author_id for n in notes}
        authors |= {r.author_id for rs in replies.values() for r in rs}
        names: dict[uuid.UUID, str] = {
            row[0]: row[1]
            for row in await self.session.execute(
                select(User.id, User.name).where(
                    User.tenant_id == self.p.tenant_id, User.id.in_(authors)
                )
            )
        }

        def one(n: CoachingNote) -> NoteOut:
            return NoteOut(
                id=n.id,
                agent_id=n.agent_id,
                author_id=n.author_id,
                author_name=names.get(n.author_id, ""),
                parent_id=n.parent_id,
                subject=n.subject,
                day=n.day,
                visit_id=n.visit_id,
                plan_id=n.plan_id,
                body=n.body,
                actions=NoteActions.model_validate(n.actions) if n.actions else None,
                applies_from=n.applies_from,
                applies_until=n.applies_until,
                acknowledged_at=n.acknowledged_at,
                created_at=n.created_at,
                replies=[one(r) for r in replies.get(n.id, [])],
            )

        return [one(n) for n in notes]


async def coaching_for(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    agent_ids: Sequence[uuid.UUID],
    day: date,
    given: CoachingIn | None,
) -> tuple[CoachingIn | None, list[uuid.UUID]]:
    """The coaching a plan for `day` obeys: the request's own, merged with the actions of
    every note on these agents that applies that day; and the notes that shaped it.

    Boosts add up per customer (a campaign focus boosts its unconverted members by the
    campaign's boost); the newest note's focus segment and visit target win over older
    ones, the request's over all; areas to avoid are all avoided."""
    notes = list(
        await session.scalars(
            select(CoachingNote)
            .where(
                CoachingNote.tenant_id == tenant_id,
                CoachingNote.agent_id.in_(list(agent_ids)),
                CoachingNote.parent_id.is_(None),
                CoachingNote.actions.is_not(None),
                and_(CoachingNote.applies_from <= day, CoachingNote.applies_until >= day),
            )
            .order_by(CoachingNote.created_at, CoachingNote.id)
        )
    )
    if not notes:
        return given, []
    boost: dict[uuid.UUID, float] = defaultdict(float)
    focus_segment, focus_factor, target, avoid = None, 1.5, None, []
    campaigns = []
    for n in notes:
        a = NoteActions.model_validate(n.actions)
        for cid, pts in a.boost.items():
            boost[cid] += pts
        if a.focus_segment:
            focus_segment, focus_factor = a.focus_segment, a.focus_factor
        if a.target_visits:
            target = a.target_visits
        avoid += a.avoid
        if a.focus_campaign_id:
            campaigns.append(a.focus_campaign_id)
    if campaigns:
        rows = await session.execute(
            select(CampaignMember.customer_id, Campaign.boost)
            .join(
                Campaign,
                and_(
                    Campaign.tenant_id == CampaignMember.tenant_id,
                    Campaign.id == CampaignMember.campaign_id,
                ),
            )
            .where(
                CampaignMember.tenant_id == tenant_id,
                CampaignMember.campaign_id.in_(campaigns),
                CampaignMember.status != "converted",
                or_(
                    CampaignMember.agent_id.in_(list(agent_ids)),
                    CampaignMember.agent_id.is_(None),
                ),
            )
        )
        for row in rows:
            boost[row[0]] += row[1]
    if given is not None:
        for cid, pts in given.boost.items():
            boost[cid] += pts
        focus_segment = given.focus_segment or focus_segment
        focus_factor = given.focus_factor if given.focus_segment else focus_factor
        target = given.target_visits or target
        avoid += given.avoid
    merged = CoachingIn(
        boost={k: min(100.0, v) for k, v in boost.items()},
        focus_segment=focus_segment,
        focus_factor=focus_factor,
        target_visits=target,
        avoid=avoid[:50],
    )
    return merged, [n.id for n in notes]
