"""A device's day: its points and events in time order."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.security import Principal
from backend.db.models import Event, Ping
from backend.org.services import DeviceService
from backend.privacy.services import audit_read
from backend.tracking.schemas import EventOut

MAX_POINTS = 10_000


class TimelinePoint(BaseModel):
    client_id: uuid.UUID
    time: datetime
    lat: float
    lon: float
    accuracy_m: float
    flag: str | None


class Timeline(BaseModel):
    device_id: uuid.UUID
    since: datetime
    until: datetime
    points: list[TimelinePoint]
    events: list[EventOut]
    truncated: bool


async def device_timeline(
    session: AsyncSession,
    p: Principal,
    device_id: uuid.UUID,
    since: datetime | None,
    until: datetime | None,
) -> Timeline:
    """Defaults to the last 24 hours; the caller must be able to see the device."""
    device = await DeviceService(session, p).get(device_id)
    until = until or datetime.now(UTC)
    since = since or until - timedelta(days=1)
    pings = (
        await session.scalars(
            select(Ping)
            .where(
                Ping.tenant_id == p.tenant_id,
                Ping.device_id == device_id,
                Ping.fix_time >= since,
                Ping.fix_time < until,
            )
            .order_by(Ping.fix_time, Ping.client_id)
            .limit(MAX_POINTS + 1)
        )
    ).all()
    events = (
        await session.scalars(
            select(Event)
            .where(
                Event.tenant_id == p.tenant_id,
                Event.device_id == device_id,
                Event.occurred_at >= since,
                Event.occurred_at < until,
                Event.retracted_at.is_(None),
            )
            .order_by(Event.occurred_at, Event.id)
        )
    ).all()
    if device.user_id is not None:
        detail = {"device_id": str(device_id), "since": since.isoformat(), "points": len(pings)}
        await audit_read(session, p, device.user_id, detail)
    return Timeline(
        device_id=device_id,
        since=since,
        until=until,
        points=[
            TimelinePoint(
                client_id=x.client_id,
                time=x.fix_time,
                lat=x.lat,
                lon=x.lon,
                accuracy_m=x.accuracy_m,
                flag=x.flag,
            )
            for x in pings[:MAX_POINTS]
        ],
        events=[EventOut.model_validate(e, from_attributes=True) for e in events],
        truncated=len(pings) > MAX_POINTS,
    )
