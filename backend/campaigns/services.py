"""Campaigns: members chosen by segment filters, tracked from targeted to converted.

Members are fixed when the campaign is made (the customers of the campaign's unit and its
sub-units matching every filter, except do-not-visit ones), each with the agent the customer
is assigned to. A member becomes `contacted` with the first visit inside the campaign's
dates, `converted` with a visit whose outcome is an appointment set or a sale; progress is
brought up to date when a campaign is read and by the `track_campaigns` job. While a
campaign runs, its `boost` is added to its unconverted members' scores, scaled by what the
campaign has taught: its conversion rate (converted / reached, with a 20 % prior worth 10
members) over the prior, kept between 0.25 and 3 (``backend/customers/scoring.py``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, and_, case, func, insert, literal, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.scope import subtree_unit_ids, unit_in_subtree, unit_on_path
from backend.auth.security import Principal
from backend.campaigns.schemas import (
    CampaignCreate,
    CampaignFilters,
    CampaignMemberOut,
    CampaignOut,
    Learned,
    Progress,
)
from backend.customers.scoring import learned_factor
from backend.db.models import Campaign, CampaignMember, Customer, OrgUnit
from backend.errors import Forbidden, Invalid, NotFound
from backend.tracking.queries import visits

TRACK = text(
    f"""
WITH firsts AS (
    SELECT DISTINCT ON (m.tenant_id, m.campaign_id, m.customer_id)
           m.tenant_id, m.campaign_id, m.customer_id, v.id AS visit_id, v.arrived_at
    FROM campaign_members m
    JOIN campaigns k ON k.tenant_id = m.tenant_id AND k.id = m.campaign_id
    JOIN {visits()} v ON v.tenant_id = m.tenant_id AND v.customer_id = m.customer_id
    WHERE m.status = 'targeted'
      AND v.arrived_at >= k.starts_on AND v.arrived_at < k.ends_on + 1
      AND (CAST(:campaign AS uuid) IS NULL OR (m.tenant_id = :tenant AND m.campaign_id = :campaign))
    ORDER BY m.tenant_id, m.campaign_id, m.customer_id, v.arrived_at
)
UPDATE campaign_members m SET status = 'contacted', contacted_at = f.arrived_at,
                              visit_id = f.visit_id
FROM firsts f
WHERE m.tenant_id = f.tenant_id AND m.campaign_id = f.campaign_id
  AND m.customer_id = f.customer_id
"""  # noqa: S608 - the tracking domain's relation
)

CONVERT = text(
    f"""
WITH wins AS (
    SELECT DISTINCT ON (m.tenant_id, m.campaign_id, m.customer_id)
           m.tenant_id, m.campaign_id, m.customer_id, v.id AS visit_id, v.arrived_at
    FROM campaign_members m
    JOIN campaigns k ON k.tenant_id = m.tenant_id AND k.id = m.campaign_id
    JOIN {visits()} v ON v.tenant_id = m.tenant_id AND v.customer_id = m.customer_id
    WHERE m.status <> 'converted'
      AND v.outcome IN ('appointment_set', 'sale')
      AND v.arrived_at >= k.starts_on AND v.arrived_at < k.ends_on + 1
      AND (CAST(:campaign AS uuid) IS NULL OR (m.tenant_id = :tenant AND m.campaign_id = :campaign))
    ORDER BY m.tenant_id, m.campaign_id, m.customer_id, v.arrived_at
)
UPDATE campaign_members m SET status = 'converted', converted_at = w.arrived_at,
                              contacted_at = coalesce(m.contacted_at, w.arrived_at),
                              visit_id = coalesce(m.visit_id, w.visit_id)
FROM wins w
WHERE m.tenant_id = w.tenant_id AND m.campaign_id = w.campaign_id
  AND m.customer_id = w.customer_id
"""  # noqa: S608 - the tracking domain's relation
)


# What each campaign has taught: members reached and converted, kept on the campaign so the
# boost's learned factor (scoring.CAMPAIGN_FACTOR_SQL) costs nothing on the hot path.
LEARN = text(
    """
UPDATE campaigns k SET reached = c.reached, converted = c.converted
FROM (SELECT tenant_id, campaign_id,
             count(*) FILTER (WHERE status IN ('contacted', 'converted'))::int AS reached,
             count(*) FILTER (WHERE status = 'converted')::int AS converted
      FROM campaign_members
      WHERE CAST(:campaign AS uuid) IS NULL OR (tenant_id = :tenant AND campaign_id = :campaign)
      GROUP BY tenant_id, campaign_id) c
WHERE k.tenant_id = c.tenant_id AND k.id = c.campaign_id
  AND (k.reached, k.converted) IS DISTINCT FROM (c.reached, c.converted)
"""
)


async def track(
    session: AsyncSession, tenant_id: uuid.UUID | None = None, campaign_id: uuid.UUID | None = None
) -> int:
    """Bring members' progress up to date from visits (one campaign, or all of them), and
    what each campaign has taught."""
    params = {"tenant": tenant_id, "campaign": campaign_id}
    contacted = await session.execute(TRACK, params)
    converted = await session.execute(CONVERT, params)
    await session.execute(LEARN, params)
    return int(getattr(contacted, "rowcount", 0) or 0) + int(getattr(converted, "rowcount", 0) or 0)


async def track_campaigns(session: AsyncSession, now: datetime) -> int:
    """The job: every campaign's progress from the visits recorded since."""
    return await track(session)


def _matching(filters: CampaignFilters, now: datetime) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    if filters.statuses:
        conds.append(Customer.status.in_(filters.statuses))
    if filters.life_stages:
        conds.append(Customer.life_stage.in_(filters.life_stages))
    if filters.income_bands:
        conds.append(Customer.income_band.in_(filters.income_bands))
    if filters.household_types:
        conds.append(Customer.household_type.in_(filters.household_types))
    if filters.lifestyle_tags_any:
        conds.append(Customer.lifestyle_tags.overlap(filters.lifestyle_tags_any))
    if filters.untouched_days_min is not None:
        since = now - timedelta(days=filters.untouched_days_min)
        conds.append(or_(Customer.last_contact_at.is_(None), Customer.last_contact_at < since))
    if filters.value_min is not None:
        conds.append(Customer.value >= filters.value_min)
    return conds


class CampaignService:
    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        if principal.is_store_app:
            raise Forbidden("store apps have no access to campaigns")
        self.session = session
        self.p = principal

    def _visible(self) -> ColumnElement[bool]:
        if self.p.is_admin:
            return Campaign.tenant_id == self.p.tenant_id
        if self.p.is_agent:
            mine = select(CampaignMember.campaign_id).where(
                CampaignMember.tenant_id == self.p.tenant_id,
                CampaignMember.agent_id == self.p.id,
            )
            return and_(Campaign.tenant_id == self.p.tenant_id, Campaign.id.in_(mine))
        # Managers: campaigns of their subtree, and those of the units above that reach it.
        return and_(
            Campaign.tenant_id == self.p.tenant_id,
            or_(
                unit_in_subtree(Campaign.org_unit_id, self.p),
                unit_on_path(Campaign.org_unit_id, self.p),
            ),
        )

    async def create(self, data: CampaignCreate) -> CampaignOut:
        if self.p.is_agent:
            raise Forbidden("campaigns are made by managers")
        unit_id = data.org_unit_id or self.p.org_unit_id
        stmt = select(OrgUnit.id).where(
            OrgUnit.tenant_id == self.p.tenant_id, OrgUnit.id == unit_id
        )
        if not self.p.is_admin:
            stmt = stmt.where(OrgUnit.id.in_(subtree_unit_ids(self.p)))
        if await self.session.scalar(stmt) is None:
            raise Invalid("unknown org_unit_id (or outside your org subtree)", field="org_unit_id")
        now = datetime.now(UTC)
        campaign = Campaign(
            tenant_id=self.p.tenant_id,
            name=data.name,
            kind=data.kind,
            org_unit_id=unit_id,
            starts_on=data.starts_on,
            ends_on=data.ends_on,
            boost=data.boost,
            filters=data.filters.model_dump(mode="json", exclude_none=True),
            created_by=self.p.id,
        )
        self.session.add(campaign)
        await self.session.flush()
        units = select(OrgUnit.id).where(
            OrgUnit.tenant_id == self.p.tenant_id, OrgUnit.path.contains([unit_id])
        )
        members = select(
            literal(self.p.tenant_id),
            literal(campaign.id),
            Customer.id,
            Customer.assigned_agent_id,
            literal("targeted"),
        ).where(
            Customer.tenant_id == self.p.tenant_id,
            Customer.org_unit_id.in_(units),
            Customer.do_not_visit.is_(False),
            *_matching(data.filters, now),
        )
        await self.session.execute(
            insert(CampaignMember).from_select(
                ["tenant_id", "campaign_id", "customer_id", "agent_id", "status"], members
            )
        )
        await self.session.flush()
        return await self.get(campaign.id)

    async def _load(self, campaign_id: uuid.UUID) -> Campaign:
        row = await self.session.scalar(
            select(Campaign).where(Campaign.id == campaign_id, self._visible())
        )
        if row is None:
            raise NotFound("no such campaign")
        return row

    async def _progress(self, campaign_ids: list[uuid.UUID]) -> dict[uuid.UUID, Progress]:
        """Progress of several campaigns in one query (the caller's own members, for agents)."""
        stmt = (
            select(
                CampaignMember.campaign_id,
                func.count(),
                func.count().filter(CampaignMember.status == "targeted"),
                func.count().filter(CampaignMember.status == "contacted"),
                func.count().filter(CampaignMember.status == "converted"),
            )
            .where(
                CampaignMember.tenant_id == self.p.tenant_id,
                CampaignMember.campaign_id.in_(campaign_ids),
            )
            .group_by(CampaignMember.campaign_id)
        )
        if self.p.is_agent:
            stmt = stmt.where(CampaignMember.agent_id == self.p.id)
        counts = {row[0]: row[1:] for row in (await self.session.execute(stmt)).all()}
        out = {}
        for cid in campaign_ids:
            total, targeted, contacted, converted = counts.get(cid, (0, 0, 0, 0))
            reached = contacted + converted
            out[cid] = Progress(
                members=total,
                targeted=targeted,
                contacted=contacted,
                converted=converted,
                contact_rate=round(reached / total, 4) if total else 0.0,
                conversion_rate=round(converted / reached, 4) if reached else 0.0,
            )
        return out

    def _out(self, row: Campaign, progress: Progress) -> CampaignOut:
        return CampaignOut(
            id=row.id,
            name=row.name,
            kind=row.kind,
            org_unit_id=row.org_unit_id,
            starts_on=row.starts_on,
            ends_on=row.ends_on,
            boost=row.boost,
            filters=CampaignFilters.model_validate(row.filters),
            created_at=row.created_at,
            progress=progress,
            learned=self._learned(row),
        )

    @staticmethod
    def _learned(row: Campaign) -> Learned:
        rate, factor = learned_factor(row.reached, row.converted)
        return Learned(
            reached=row.reached,
            converted=row.converted,
            rate=round(rate, 4),
            boost_factor=round(factor, 4),
        )

    async def get(self, campaign_id: uuid.UUID) -> CampaignOut:
        row = await self._load(campaign_id)
        await track(self.session, self.p.tenant_id, row.id)
        await self.session.refresh(row)  # what tracking taught
        return self._out(row, (await self._progress([row.id]))[row.id])

    async def all(self) -> list[CampaignOut]:
        rows = (
            await self.session.scalars(
                select(Campaign)
                .where(self._visible())
                .order_by(Campaign.starts_on.desc())
                .limit(200)
            )
        ).all()
        progress = await self._progress([r.id for r in rows])
        return [self._out(r, progress[r.id]) for r in rows]

    async def members(
        self, campaign_id: uuid.UUID, status: str | None, agent_id: uuid.UUID | None
    ) -> list[CampaignMemberOut]:
        row = await self._load(campaign_id)
        await track(self.session, self.p.tenant_id, row.id)
        stmt = (
            select(CampaignMember, Customer.name)
            .join(
                Customer,
                (Customer.tenant_id == CampaignMember.tenant_id)
                & (Customer.id == CampaignMember.customer_id),
            )
            .where(
                CampaignMember.tenant_id == self.p.tenant_id,
                CampaignMember.campaign_id == row.id,
            )
            .order_by(case((CampaignMember.status == "targeted", 0), else_=1), Customer.name)
            .limit(5000)
        )
        if self.p.is_agent:
            stmt = stmt.where(CampaignMember.agent_id == self.p.id)
        elif not self.p.is_admin:
            stmt = stmt.where(unit_in_subtree(Customer.org_unit_id, self.p))
        if status is not None:
            stmt = stmt.where(CampaignMember.status == status)
        if agent_id is not None:
            stmt = stmt.where(CampaignMember.agent_id == agent_id)
        out = []
        for m, name in (await self.session.execute(stmt)).all():
            out.append(
                CampaignMemberOut(
                    customer_id=m.customer_id,
                    customer_name=name,
                    agent_id=m.agent_id,
                    status=m.status,
                    contacted_at=m.contacted_at,
                    converted_at=m.converted_at,
                    visit_id=m.visit_id,
                )
            )
        return out
