"""Retention: keep what each tenant's settings say, no more (backend/tenants/settings.py).
The tracking domain holds the location data, so it forgets it (as it erases a person's:
erasure.py); the webhooks domain forgets the deliveries that carried it.

Raw points live in `pings`, partitioned by UTC day of fix time (migration 0011), and scans in
`scans`, by day of scan time (migration 0037). The job makes the coming week's partitions of
both and drops every partition whose whole day is older than the longest point retention of
any tenant: the bulk of expiry is a `DROP TABLE`, not row deletes. A tenant that keeps points
for less than that longest period has its older points and scans deleted row by row from the
partitions that remain. Events and visits are not partitioned; their expired rows are deleted
per tenant.

Days are the tenant's local days (its `timezone`): N days kept are today and the N - 1 days
before, each from local midnight (`kept_since`). A day goes whole, at the tenant's midnight,
and nothing is kept longer than N x 24 hours.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.driver import raw_connection
from backend.db.jsonb import loads
from backend.tenants.settings import TenantSettings, settings_of
from backend.webhooks.outbox import forget_deliveries

log = logging.getLogger("fieldsense.retention")

AHEAD_DAYS = 7
_PARTITION = re.compile(r"^(\w+)_p(\d{8})$")
# Tables partitioned by day, and the column of their day.
BY_DAY = {"pings": "fix_time", "scans": "scanned_at"}

PARTITIONS = """
SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = ANY(ARRAY['pings'::regclass, 'scans'::regclass])
"""


def kept_since(now: datetime, days: int, zone: ZoneInfo) -> datetime:
    """The start of the oldest local day of `days` kept: the first local midnight at or
    after `now - days`."""
    oldest = (now - timedelta(days=days)).astimezone(zone)
    midnight = datetime.combine(oldest.date(), time(0), zone)
    if midnight < oldest:
        midnight = datetime.combine(oldest.date() + timedelta(days=1), time(0), zone)
    return midnight


def expired_partitions(names: list[str], horizon: datetime) -> list[str]:
    """The daily partitions (of the tables partitioned by day) whose whole day lies before
    `horizon`."""
    out = []
    for name in names:
        m = _PARTITION.match(name)
        if not m or m.group(1) not in BY_DAY:
            continue
        day = datetime.strptime(m.group(2), "%Y%m%d").replace(tzinfo=UTC)
        if day + timedelta(days=1) <= horizon:
            out.append(name)
    return sorted(out)


async def enforce_retention(session: AsyncSession, now: datetime) -> int:
    """One pass; returns partitions dropped plus rows deleted (details in the log)."""
    db = await raw_connection(session)
    today: date = now.astimezone(UTC).date()
    made = await db.fetchval(
        "SELECT fieldsense_ping_partitions($1, $2)", today, today + timedelta(days=AHEAD_DAYS)
    )
    made += await db.fetchval(
        "SELECT fieldsense_day_partitions('scans', 'scanned_at', $1, $2)",
        today,
        today + timedelta(days=AHEAD_DAYS),
    )
    tenants = [
        (r["id"], settings_of(loads(r["settings"])))
        for r in await db.fetch("SELECT id, settings FROM tenants")
    ]
    longest = max(
        (s.retention_points_days for _, s in tenants),
        default=TenantSettings().retention_points_days,
    )
    horizon = now - timedelta(days=longest)
    dropped = expired_partitions([r["relname"] for r in await db.fetch(PARTITIONS)], horizon)
    for name in dropped:
        await db.execute(f'DROP TABLE "{name}"')
    deleted = dict.fromkeys(("pings", "scans", "events", "visits", "webhook_deliveries"), 0)
    for table, column in BY_DAY.items():
        deleted[table] += _count(
            await db.execute(f"DELETE FROM {table}_default WHERE {column} < $1", horizon)  # noqa: S608 - names from this module's fixed table
        )
    for tenant_id, s in tenants:
        points_before = kept_since(now, s.retention_points_days, s.zone)
        records_before = kept_since(now, s.retention_records_days, s.zone)
        # What the dropped partitions left of the tenant's expired points (at most a day's
        # for the longest retention; the whole of it for a shorter one).
        if points_before > horizon:
            deleted["pings"] += _count(
                await db.execute(
                    "DELETE FROM pings WHERE tenant_id = $1 AND fix_time < $2",
                    tenant_id,
                    points_before,
                )
            )
        for table, column, before in (
            ("scans", "scanned_at", points_before),
            ("events", "occurred_at", records_before),
            ("visits", "arrived_at", records_before),
        ):
            deleted[table] += _count(
                await db.execute(
                    f"DELETE FROM {table} WHERE tenant_id = $1 AND {column} < $2",  # noqa: S608 - table and column from this module's fixed list
                    tenant_id,
                    before,
                )
            )
        deleted["webhook_deliveries"] += await forget_deliveries(db, tenant_id, records_before)
    detail: dict[str, Any] = {"made": made, "dropped": dropped, "deleted": deleted}
    log.info("retention: %s", detail)
    return len(dropped) + sum(deleted.values())


def _count(status: str) -> int:
    # asyncpg's command tag: "DELETE 12".
    return int(status.rsplit(" ", 1)[-1]) if status and status[-1].isdigit() else 0
