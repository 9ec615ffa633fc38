"""Calendar files in (an agent's appointments from iCalendar) and calendar feeds out (a token
per subscription, kept as its hash, revocable on its own)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.appointments.ical import read
from backend.appointments.schemas import FeedListed, FeedOut, ImportOut
from backend.appointments.services import AppointmentService
from backend.customers.services import CustomerService
from backend.db.models import Appointment, CalendarFeed, Customer
from backend.errors import Invalid, NotFound

FEED_PREFIX = "fscal_"


def feed_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def import_calendar(
    svc: AppointmentService, agent_id: uuid.UUID | None, body: bytes, zone: ZoneInfo
) -> ImportOut:
    """The file's events as the agent's appointments: new UIDs created, known ones moved."""
    p, session = svc.p, svc.session
    agent = await svc.whose(agent_id)
    events = read(body, zone)
    refs = {e.customer for e in events if e.customer}
    ids = {r for r in refs if _uuid(r) is not None}
    customers = CustomerService(session, p)
    rows = (
        await session.execute(
            select(Customer.id, Customer.external_id).where(
                Customer.tenant_id == p.tenant_id,
                customers.visible(),
                or_(Customer.id.in_([uuid.UUID(i) for i in ids]), Customer.external_id.in_(refs)),
            )
        )
    ).all()
    by_ref = {str(r.id): r.id for r in rows} | {r.external_id: r.id for r in rows if r.external_id}
    existing = {
        a.external_uid: a
        for a in await session.scalars(
            select(Appointment).where(
                Appointment.tenant_id == p.tenant_id,
                Appointment.agent_id == agent,
                Appointment.external_uid.in_([e.uid for e in events if e.uid]),
            )
        )
    }
    created = updated = 0
    uids: set[str] = set()
    for e in events:
        if e.uid and e.uid in uids:
            raise Invalid(f"the event at line {e.line} repeats UID {e.uid}", field="body",
                          extra={"line": e.line})  # fmt: skip
        if e.uid:
            uids.add(e.uid)
        customer = by_ref.get(e.customer or "")
        if customer is None:
            raise Invalid(
                f"the event at line {e.line} names no customer of yours ({e.customer or 'none'}"
                ": X-FIELDSENSE-CUSTOMER, an id or external_id)",
                field="body",
                extra={"line": e.line},
            )
        minutes = max(1, min(600, round((e.end - e.start).total_seconds() / 60)))
        values = {"customer_id": customer, "starts_at": e.start, "latest_start_at": e.start,
                  "duration_min": minutes, "title": e.summary}  # fmt: skip
        row = existing.get(e.uid) if e.uid else None
        if row is None:
            session.add(
                Appointment(tenant_id=p.tenant_id, agent_id=agent, status="planned",
                            source="ical", external_uid=e.uid, created_by=p.id, **values)
            )  # fmt: skip
            created += 1
        else:
            for k, v in values.items():
                setattr(row, k, v)
            updated += 1
    await session.flush()
    return ImportOut(created=created, updated=updated)


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


async def open_feed(svc: AppointmentService, agent_id: uuid.UUID | None, base: str) -> FeedOut:
    """A new feed of the agent's calendar; its token is in the URL, shown this once."""
    p = svc.p
    agent = await svc.whose(agent_id)
    token = FEED_PREFIX + secrets.token_urlsafe(32)
    feed = CalendarFeed(
        tenant_id=p.tenant_id, agent_id=agent, token_hash=feed_hash(token), created_by=p.id
    )
    svc.session.add(feed)
    await svc.session.flush()
    return FeedOut(id=feed.id, agent_id=agent, url=f"{base}/calendar/{token}.ics")


async def feeds(svc: AppointmentService) -> list[FeedListed]:
    rows = await svc.session.scalars(
        select(CalendarFeed)
        .where(CalendarFeed.tenant_id == svc.p.tenant_id, svc.visible_agent(CalendarFeed.agent_id))
        .order_by(CalendarFeed.created_at.desc())
    )
    return [FeedListed(id=r.id, agent_id=r.agent_id, created_at=r.created_at,
                       revoked_at=r.revoked_at) for r in rows]  # fmt: skip


async def revoke_feed(svc: AppointmentService, feed_id: uuid.UUID) -> None:
    row = await svc.session.scalar(
        select(CalendarFeed).where(
            CalendarFeed.tenant_id == svc.p.tenant_id,
            CalendarFeed.id == feed_id,
            svc.visible_agent(CalendarFeed.agent_id),
        )
    )
    if row is None:
        raise NotFound(f"calendar feed {feed_id} not found", field="feed_id")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        await svc.session.flush()


async def feed_owner(session: AsyncSession, token: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    """The (tenant, agent) a feed token opens, if it stands (the system engine's session:
    the request carries no tenant)."""
    row = await session.execute(
        select(CalendarFeed.tenant_id, CalendarFeed.agent_id).where(
            CalendarFeed.token_hash == feed_hash(token), CalendarFeed.revoked_at.is_(None)
        )
    )
    found = row.first()
    return (found.tenant_id, found.agent_id) if found else None
