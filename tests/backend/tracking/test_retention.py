"""Retention: expired days of points go by dropping their partition; a tenant that keeps
points for less than the longest retention loses its older rows; records expire per tenant, at
the tenant's local midnight.
On a database of its own (the job works across every tenant in it)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from backend.tenants.services import create_tenant
from backend.tracking.retention import enforce_retention, expired_partitions, kept_since
from tests.conftest import fresh_database

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest_asyncio.fixture(scope="module")
async def own_db(db_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_async_engine(await fresh_database(db_url, "retention"))
    yield eng
    await eng.dispose()


async def tenant_with_a_device(session: AsyncSession, slug: str) -> tuple[uuid.UUID, uuid.UUID]:
    made = await create_tenant(
        session, slug=slug, name=slug, admin_email=f"a@{slug}.test", admin_password="x" * 12
    )
    device = uuid.uuid4()
    await session.execute(
        text(
            "INSERT INTO devices (tenant_id, id, user_id, name, identifier, platform) "
            "VALUES (:t, :d, :u, 'phone', :i, 'android')"
        ),
        {"t": made.tenant.id, "d": device, "u": made.admin.id, "i": f"{slug}-phone"},
    )
    return made.tenant.id, device


def test_which_partitions_have_expired() -> None:
    horizon = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    names = ["pings_p20261030", "pings_p20261031", "pings_p20261101", "pings_default", "x",
             "scans_p20261031", "other_p20261030"]  # fmt: skip
    assert expired_partitions(names, horizon) == [
        "pings_p20261030", "pings_p20261031", "scans_p20261031"
    ]  # fmt: skip


async def test_points_expire_by_partition_and_records_by_tenant(own_db: AsyncEngine) -> None:
    async with AsyncSession(own_db, expire_on_commit=False) as session, session.begin():
        a, dev_a = await tenant_with_a_device(session, "keeps-30")
        b, dev_b = await tenant_with_a_device(session, "keeps-10")
        await session.execute(
            text("UPDATE tenants SET settings = CAST(:s AS jsonb) WHERE id = :t"),
            {"s": json.dumps({"retention_points_days": 10, "retention_records_days": 30}), "t": b},
        )
        start = (NOW - timedelta(days=45)).date()
        await session.execute(
            text("SELECT fieldsense_ping_partitions(:a, :b)"), {"a": start, "b": NOW.date()}
        )
        await session.execute(
            text("SELECT fieldsense_day_partitions('scans', 'scanned_at', :a, :b)"),
            {"a": start, "b": NOW.date()},
        )
        for tenant, device in ((a, dev_a), (b, dev_b)):
            for days in (40, 20, 5):
                await session.execute(
                    text(
                        "INSERT INTO pings (tenant_id, device_id, client_id, fix_time, "
                        "received_at, lat, lon, accuracy_m) "
                        "VALUES (:t, :d, :c, :f, :f, 37.5, 127.0, 10)"
                    ),
                    {
                        "t": tenant,
                        "d": device,
                        "c": uuid.uuid4(),
                        "f": NOW - timedelta(days=days),
                    },
                )
                await session.execute(
                    text(
                        "INSERT INTO events (tenant_id, id, kind, occurred_at, device_id, "
                        "subject) VALUES (:t, :i, 'entered', :f, :d, 'x')"
                    ),
                    {"t": tenant, "i": uuid.uuid4(), "f": NOW - timedelta(days=days), "d": device},
                )
                await session.execute(
                    text(
                        "INSERT INTO scans (tenant_id, device_id, kind, scanned_at, received_at, "
                        "sightings) VALUES (:t, :d, 'wifi', :f, :f, '[]')"
                    ),
                    {"t": tenant, "d": device, "f": NOW - timedelta(days=days)},
                )
    old_day = f"pings_p{(NOW - timedelta(days=40)):%Y%m%d}"
    ahead = f"pings_p{(NOW + timedelta(days=7)):%Y%m%d}"
    old_scans = f"scans_p{(NOW - timedelta(days=40)):%Y%m%d}"
    scans_ahead = f"scans_p{(NOW + timedelta(days=7)):%Y%m%d}"

    async with own_db.connect() as conn:
        assert await conn.scalar(text("SELECT to_regclass(:n) IS NOT NULL"), {"n": old_day})

    async with AsyncSession(own_db, expire_on_commit=False) as session, session.begin():
        done = await enforce_retention(session, NOW)
    assert done > 0

    async with own_db.connect() as conn:

        async def ages(table: str, column: str, tenant: uuid.UUID) -> list[int]:
            rows = await conn.execute(
                text(f"SELECT {column} FROM {table} WHERE tenant_id = :t ORDER BY 1"),  # noqa: S608 - names fixed in the test
                {"t": tenant},
            )
            return sorted(round((NOW - r[0]).total_seconds() / 86400) for r in rows)

        # Longest retention among tenants: 30 days. The day 40 days ago was dropped whole.
        assert not await conn.scalar(text("SELECT to_regclass(:n) IS NOT NULL"), {"n": old_day})
        assert await conn.scalar(text("SELECT to_regclass(:n) IS NOT NULL"), {"n": ahead})
        assert await ages("pings", "fix_time", a) == [5, 20]
        assert await ages("pings", "fix_time", b) == [5]  # keeps points 10 days
        # Scans go as points do: the old day's partition dropped whole, next week's made.
        assert not await conn.scalar(text("SELECT to_regclass(:n) IS NOT NULL"), {"n": old_scans})
        assert await conn.scalar(text("SELECT to_regclass(:n) IS NOT NULL"), {"n": scans_ahead})
        assert await ages("scans", "scanned_at", a) == [5, 20]
        assert await ages("scans", "scanned_at", b) == [5]
        assert await ages("events", "occurred_at", a) == [5, 20, 40]  # records: a year
        assert await ages("events", "occurred_at", b) == [5, 20]  # records: 30 days


async def test_records_expire_at_the_tenants_local_midnight(own_db: AsyncEngine) -> None:
    """A Seoul tenant keeping records two days: today and yesterday, Seoul time. At 10:00 on
    10 December, an event at 00:30 on the 9th stays (a UTC day would have cut it: it is 15:30
    on the 8th in UTC) and one at 23:30 on the 8th goes (only 34.5 hours old: its day is
    gone)."""
    seoul = ZoneInfo("Asia/Seoul")
    now = datetime(2026, 12, 10, 10, 0, tzinfo=seoul)
    assert kept_since(now, 2, seoul) == datetime(2026, 12, 9, 0, 0, tzinfo=seoul)
    assert kept_since(now, 2, ZoneInfo("UTC")) == datetime(2026, 12, 9, 0, 0, tzinfo=UTC)
    async with AsyncSession(own_db, expire_on_commit=False) as session, session.begin():
        tenant, device = await tenant_with_a_device(session, "seoul-days")
        await session.execute(
            text("UPDATE tenants SET settings = CAST(:s AS jsonb) WHERE id = :t"),
            {"s": json.dumps({"timezone": "Asia/Seoul", "retention_records_days": 2}), "t": tenant},
        )
        for at in (datetime(2026, 12, 8, 23, 30), datetime(2026, 12, 9, 0, 30)):
            await session.execute(
                text(
                    "INSERT INTO events (tenant_id, id, kind, occurred_at, device_id, subject) "
                    "VALUES (:t, :i, 'entered', :f, :d, 'x')"
                ),
                {"t": tenant, "i": uuid.uuid4(), "f": at.replace(tzinfo=seoul), "d": device},
            )
    async with AsyncSession(own_db, expire_on_commit=False) as session, session.begin():
        await enforce_retention(session, now.astimezone(UTC))
    async with own_db.connect() as conn:
        left = (
            await conn.scalars(
                text("SELECT occurred_at FROM events WHERE tenant_id = :t"), {"t": tenant}
            )
        ).all()
    assert [t.astimezone(seoul).replace(tzinfo=None) for t in left] == [
        datetime(2026, 12, 9, 0, 30)
    ]
