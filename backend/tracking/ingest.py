"""Location ingest: store every point, run the engine in fix-time order, record events.

This is the hot path, so it talks to asyncpg directly (array parameters with `unnest`, one
round trip per step, never one query per point), inside the request's transaction.
"""

from __future__ import annotations

import uuid
from collections import Counter
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.auth.security import Principal
from backend.db.driver import driver_transaction, opening, transaction_on
from backend.db.jsonb import dumps, loads
from backend.errors import Forbidden, Invalid, NotFound
from backend.plans.queries import profile_of
from backend.tenants.settings import settings_of
from backend.tracking.checkpoints import SAVE_STATE, position
from backend.tracking.matching import MATCH_AND_WATCH, match_fences, watch_list
from backend.tracking.points import Parsed, ms, parse_points, to_dt
from backend.tracking.records import INSERT_EVENTS, EventWriter
from backend.tracking.retention import kept_since
from backend.tracking.schemas import (
    FenceToWatch,
    IngestResult,
    PointResult,
)
from backend.tracking.shift import Shift
from geofence.device import DeviceState, EngineConfig, process
from geofence.timeline import Order, reconcile, start_run
from geofence.types import Fix

# `Fix.order` (fix time, then client id) as a key function, without a call to the property.
FIX_ORDER = attrgetter("t", "client_id")


# The ingest's transactions (`ingest_connection`) are opened with these settings. The batch
# queries are the same shape every time; PostGIS makes planning them with the actual points
# (the first five runs on each connection) cost more than running them, and the generic plan
# uses the GiST index just as well.
# A generic plan is made once per connection and kept, so it must not depend on how full a
# table looked at that moment. A day's partition of `pings` analyzed while still empty (by
# hand, after an upgrade, or as the benchmark does after loading) made the insert's duplicate
# check a sequential scan, run by every batch over the whole day's points until autovacuum
# analyzed the partition again: in the benchmark's first batch round the insert kept 0.7
# backends busy, 0.13 later. Every statement here finds its rows by a key or an index, so
# sequential scans are ruled out (tests/backend/tracking/test_ingest_plans.py).
INGEST_SETTINGS = {"plan_cache_mode": "force_generic_plan", "enable_seqscan": "off"}


def ingest_connection(engine: AsyncEngine) -> AbstractAsyncContextManager[asyncpg.Connection]:
    """A pooled driver connection in an ingest transaction (backend/db/driver.py).

    The ingest endpoints use this instead of an ORM session: they never need the ORM, and on
    the hot path its per-request overhead is a large share of a single point's cost."""
    return driver_transaction(engine, INGEST_SETTINGS)


def ingest_transaction(
    db: asyncpg.Connection, tenant: uuid.UUID | None
) -> AbstractAsyncContextManager[None]:
    """An ingest transaction on a connection already held (the benchmark's own)."""
    return transaction_on(db, tenant, INGEST_SETTINGS)


# The device, what decides which of its points are kept (the tenant's capture setting and
# the shift in its user's planning profile), and its engine state row, created if missing and
# locked for this transaction: one device's batches (points or scans) are processed one at a
# time. All in one round trip.
DEVICE = f"""
WITH d AS (
    SELECT d.user_id, d.revoked_at, d.approved_at,
           t.settings AS tenant_settings, ap.settings AS profile
    FROM devices d JOIN tenants t ON t.id = d.tenant_id
    LEFT JOIN LATERAL {profile_of("d.tenant_id", "d.user_id")} ap ON true
    WHERE d.tenant_id = $1 AND d.id = $2
), s AS (
    INSERT INTO device_states (tenant_id, device_id, state, beacons, wifi)
    SELECT $1, $2, '{{}}', '{{}}', '{{}}' WHERE EXISTS (SELECT FROM d)
    ON CONFLICT (tenant_id, device_id) DO UPDATE SET updated_at = now()
    RETURNING state, beacons, wifi, last_fix_time, last_client_id
)
SELECT * FROM d, s
"""  # noqa: S608 - the plans domain's fragment


@dataclass(frozen=True)
class Keep:
    """Which of a device's points the tenant keeps: not older than its retention, and (unless
    it captures outside working hours) inside the agent's shift."""

    oldest_t: float
    shift: Shift | None

    def why_not(self, t: float) -> str | None:
        if t < self.oldest_t:
            return "older than this tenant keeps points"
        return None if self.shift is None else self.shift.why_not(t)


def speaks_for(p: Principal, device_id: uuid.UUID, owner: uuid.UUID | None) -> bool:
    """Whether the caller may send for (or ask about) the device `owner` (none: no such
    device) has: its agent or an admin; a device's own credential for that device only."""
    if owner is None or (owner != p.id and not p.is_admin):
        return False
    return p.device_id is None or p.device_id == device_id


async def require_own_device(
    db: asyncpg.Connection, p: Principal, device_id: uuid.UUID
) -> tuple[Keep, asyncpg.Record]:
    """Check the caller may send for the device; say which of its points are kept; and
    hand over its engine state, locked for this transaction."""
    row = await db.fetchrow(DEVICE, p.tenant_id, device_id)
    if not speaks_for(p, device_id, row["user_id"] if row is not None else None):
        raise NotFound(f"device {device_id} not found")
    if row["revoked_at"] is not None:
        raise Forbidden("this device has been revoked")
    if row["approved_at"] is None:
        raise Forbidden("this device waits for a manager's approval")
    settings = settings_of(loads(row["tenant_settings"]))
    # What retention would forget at once is not stored (the tenant's local days: retention.py).
    oldest = kept_since(datetime.now(UTC), settings.retention_points_days, settings.zone)
    shift = None
    if not settings.capture_outside_shift:
        profile = loads(row["profile"]) if row["profile"] else None
        shift = Shift.of(profile, settings.holiday_country)
    return Keep(oldest.timestamp(), shift), row


# One array per column (`unnest`): measured against one JSON parameter (`jsonb_to_recordset`),
# 23 against 29 microseconds a point, encoding included.
# Points already stored (the same key) are left out by one range scan of the device's key
# over the batch's span, not ON CONFLICT: that checks the index row by row and cost a fifth
# of the insert. It is safe because the device's state row is locked first (DEVICE): no other
# upload for the device can store points until this transaction ends.
# A point dated by its age (`age_s`) gets a fix time that moves with each re-send's network
# delay, so such a point is also left out when its client id is stored within an hour of the
# batch's aged points ($17, $18: NULL when there are none, and that scan is never made).
# The answer is the points that were not stored: usually none, so one NULL comes back rather
# than a row per point. A column no point of the batch has (heading, battery, ...) is sent as
# NULL rather than an array of NULLs: `unnest` pads it, and nothing is encoded for it.
STORE_PINGS = """
WITH ins AS (
    INSERT INTO pings (tenant_id, device_id, client_id, fix_time, received_at, lat, lon,
                       accuracy_m, speed_mps, heading_deg, altitude_m, battery, provider, mock)
    SELECT $1, $2, u.c, to_timestamp(u.t), $3, u.lat, u.lon, u.acc, u.spd, u.hdg, u.alt, u.bat,
           u.prv, coalesce(u.mock, false)
    FROM unnest($4::uuid[], $5::float8[], $6::float8[], $7::float8[], $8::float8[],
                $9::float8[], $10::float8[], $11::float8[], $12::float8[], $13::text[],
                $14::bool[], $19::bool[])
         AS u(c, t, lat, lon, acc, spd, hdg, alt, bat, prv, mock, aged)
    WHERE (u.c, to_timestamp(u.t)) NOT IN (
        SELECT p.client_id, p.fix_time FROM pings p
        WHERE p.tenant_id = $1 AND p.device_id = $2
          AND p.fix_time BETWEEN to_timestamp($15) AND to_timestamp($16))
      AND (NOT coalesce(u.aged, false) OR u.c NOT IN (
        SELECT p.client_id FROM pings p
        WHERE p.tenant_id = $1 AND p.device_id = $2
          AND p.fix_time BETWEEN to_timestamp($17) - interval '1 hour'
                             AND to_timestamp($18) + interval '1 hour'))
    RETURNING client_id
)
SELECT array_agg(c::text) FROM unnest($4::uuid[]) AS c WHERE c NOT IN (SELECT client_id FROM ins)
"""


# The flags of points the engine kept out of presence (or, on a replay, of every point it ran
# again), by key: with the fix time, which picks the day's partition. The span of the points
# ($6, $7) bounds the scan of the device's key whichever way the kept plan joins: planned while
# the day's partition was nearly empty (a connection's first batch with a flag, early in the
# day), the join condition alone read every point of the device that day, on every later
# batch with a flag (test_ingest_plans.py).
FLAG_PINGS = """
UPDATE pings SET flag = u.flag
FROM unnest($3::uuid[], $4::float8[], $5::text[]) AS u(cid, t, flag)
WHERE tenant_id = $1 AND device_id = $2
  AND fix_time BETWEEN to_timestamp($6) AND to_timestamp($7)
  AND client_id = u.cid AND fix_time = to_timestamp(u.t)
"""


def _column(values: list[Any]) -> list[Any] | None:
    """A column of a batch, or None when no point has it (sent as NULL: `unnest` pads it)."""
    return values if any(v is not None for v in values) else None


async def store_points(
    db: asyncpg.Connection,
    tenant_id: uuid.UUID,
    device_id: uuid.UUID,
    good: list[Parsed],
    received: datetime,
) -> set[str]:
    """Store the device's points not stored before (STORE_PINGS; the device's state row must
    be locked in this transaction): the client ids of those stored now."""
    if not good:
        return set()
    pts = [g.point for g in good]
    ids = [g.fix.client_id for g in good]
    aged_t = [g.fix.t for g in good if g.point.age_s is not None]
    kept_out = await db.fetchval(
        STORE_PINGS,
        tenant_id,
        device_id,
        received,
        ids,
        [g.fix.t for g in good],
        [p.lat for p in pts],
        [p.lon for p in pts],
        [p.accuracy_m for p in pts],
        _column([p.speed_mps for p in pts]),
        _column([p.heading_deg for p in pts]),
        _column([p.altitude_m for p in pts]),
        _column([p.battery for p in pts]),
        _column([p.provider for p in pts]),
        [p.mock for p in pts] if any(p.mock for p in pts) else None,
        min(g.fix.t for g in good),
        max(g.fix.t for g in good),
        min(aged_t, default=None),
        max(aged_t, default=None),
        [p.age_s is not None for p in pts] if aged_t else None,
    )
    return set(ids).difference(kept_out) if kept_out else set(ids)


# What the match computes, once: PostGIS readies itself in each server process on first use
# (the library, the spatial reference), 15 to 37 ms.
POSTGIS_FIRST_USE = """
SELECT ST_Intersects(b, p), ST_Distance(ST_Boundary(b)::geography, p::geography, false),
       ST_Distance(p::geography, p::geography, false), ST_Centroid(b)
FROM (SELECT ST_SetSRID(ST_MakePoint(0, 0), 4326) AS p) x,
     LATERAL (SELECT ST_Buffer(x.p, 0.001) AS b) y
"""


async def warm(db: asyncpg.Connection) -> None:
    """Ready a new connection for uploads before any arrives: run the costly statements of a
    batch once, on nothing (no tenant, a device that does not exist, no points), in a
    transaction rolled back. Each statement is then prepared on the connection, its generic
    plan made and kept (the fence match's, with PostGIS and its PL/pgSQL function, took 36 ms
    the first time), the driver has looked up the array types (11 ms) and PostGIS has readied
    itself: about 75 ms of a connection's first upload, against 4 ms for the next
    (docs/ingest.md). The plans kept do not depend on the tenant they were made under: the
    statements name it by parameter (migration 0021, test_ingest_plans.py)."""
    nothing = uuid.UUID(int=0)
    await db.execute(opening(None, INGEST_SETTINGS))
    try:
        await db.fetchrow(POSTGIS_FIRST_USE)
        await db.fetchrow(DEVICE, nothing, nothing)
        await db.fetchval(
            STORE_PINGS, nothing, nothing, datetime.now(UTC), [], [], [], [], [],
            *([None] * 6), 0.0, 0.0, None, None, None,
        )  # fmt: skip
        await db.fetchrow(MATCH_AND_WATCH, [], [], [], [], nothing, 0.0, 0.0, False)
        await db.fetch(INSERT_EVENTS, nothing, nothing, nothing, False, "[]")
    finally:
        await db.execute("ROLLBACK")


def _key(order: Order) -> tuple[datetime, uuid.UUID]:
    """An engine order as the rows' key: the smallest UUID for the engine's smallest id."""
    t, client = order
    at = datetime.min.replace(tzinfo=UTC) if t == float("-inf") else to_dt(t)
    return at, uuid.UUID(client) if client else uuid.UUID(int=0)


class PgTimeline:
    """A device's timeline store (geofence/timeline.py `TimelineStore`) in PostgreSQL: its
    checkpoints, its stored points and the events they produced, in the ingest's transaction
    (the device's state row is locked)."""

    def __init__(self, db: asyncpg.Connection, tenant_id: uuid.UUID, device_id: uuid.UUID) -> None:
        self.db, self.tenant_id, self.device_id = db, tenant_id, device_id

    async def checkpoint_before(self, order: Order) -> tuple[Order, DeviceState] | None:
        cp = await self.db.fetchrow(
            """SELECT fix_time, client_id, state FROM device_checkpoints
               WHERE tenant_id = $1 AND device_id = $2 AND (fix_time, client_id) < ($3, $4)
               ORDER BY fix_time DESC, client_id DESC LIMIT 1""",
            self.tenant_id,
            self.device_id,
            *_key(order),
        )
        if cp is None:
            return None
        at = (ms(cp["fix_time"]), str(cp["client_id"]))
        return at, DeviceState.from_dict(loads(cp["state"]))

    async def forget_checkpoints_after(self, order: Order) -> None:
        await self.db.execute(
            """DELETE FROM device_checkpoints WHERE tenant_id = $1 AND device_id = $2
               AND (fix_time, client_id) > ($3, $4)""",
            self.tenant_id,
            self.device_id,
            *_key(order),
        )

    async def points_after(self, order: Order) -> list[Fix]:
        rows = await self.db.fetch(
            """SELECT client_id, fix_time, received_at, lat, lon, accuracy_m, speed_mps, mock
               FROM pings WHERE tenant_id = $1 AND device_id = $2
               AND (fix_time, client_id) > ($3, $4)
               ORDER BY fix_time, client_id""",
            self.tenant_id,
            self.device_id,
            *_key(order),
        )
        return [
            Fix(str(r["client_id"]), ms(r["fix_time"]), r["lat"], r["lon"], r["accuracy_m"],
                r["speed_mps"], r["mock"], ms(r["received_at"]))
            for r in rows
        ]  # fmt: skip

    async def recorded_after(self, order: Order) -> dict[str, Order]:
        # What the points produced since then (not what the device's beacon and Wi-Fi scans
        # did: those replay on their own, and a late batch of points leaves them be).
        rows = await self.db.fetch(
            """SELECT id, produced_by_time, produced_by_client FROM events
               WHERE tenant_id = $1 AND device_id = $2 AND retracted_at IS NULL
               AND (produced_by_time, produced_by_client) > ($3, $4)
               AND kind NOT IN ('beacon_entered', 'beacon_exited', 'wifi_entered',
                                'wifi_exited')""",
            self.tenant_id,
            self.device_id,
            *_key(order),
        )
        return {
            str(r["id"]): (ms(r["produced_by_time"]), str(r["produced_by_client"])) for r in rows
        }


class LocationIngest:
    """One batch of points from one device, in the request's transaction."""

    def __init__(self, db: asyncpg.Connection, principal: Principal, cfg: EngineConfig) -> None:
        self.db = db
        self.p = principal
        self.cfg = cfg

    async def run(self, device_id: uuid.UUID, raw: list[Any], received: datetime) -> IngestResult:
        db = self.db
        keep, state_row = await require_own_device(db, self.p, device_id)
        good, results, rejected = parse_points(raw, received)
        if not good and rejected:
            first = next(iter(rejected.values()))
            raise Invalid(first["reason"] or "invalid point", field=first["field"], extra=results)
        good = self._kept(keep, good, results)
        new_ids = await store_points(db, self.p.tenant_id, device_id, good, received)
        # The results of the points kept, by client id: only looked up for duplicates and
        # flags, which most batches have few of or none.
        by_id: dict[str | None, PointResult] = {}
        if len(new_ids) < len(good):
            by_id = {r["client_id"]: r for r in results if r["status"] == "accepted"}
            for g in good:
                if g.fix.client_id not in new_ids:
                    by_id[g.fix.client_id]["status"] = "duplicate"
            fresh = [g for g in good if g.fix.client_id in new_ids]
        else:
            fresh = good
        events = 0
        # Where the phone is (its newest point kept, stored now or before): the fences to
        # watch from there come with the fence match when there is one.
        last_good = max((g.fix for g in good), key=FIX_ORDER, default=None)
        watch: list[FenceToWatch] | None = None
        if fresh:
            fixes = [g.fix for g in fresh]
            flags, events, watch = await self._process(db, device_id, state_row, fixes, last_good)
            if flags and not by_id:
                by_id = {r["client_id"]: r for r in results if r["status"] == "accepted"}
            for cid, flag in flags.items():
                if cid in by_id and by_id[cid]["status"] == "accepted":
                    by_id[cid]["status"], by_id[cid]["reason"] = "flagged", flag
        if watch is None:
            watch = await watch_list(db, self.p.tenant_id, last_good) if last_good else []
        counts = Counter(r["status"] for r in results)
        return {
            "accepted": counts["accepted"],
            "duplicates": counts["duplicate"],
            "flagged": counts["flagged"],
            "rejected": counts["rejected"],
            "discarded": counts["discarded"],
            "events": events,
            "results": results,
            "watch": watch,
        }

    @staticmethod
    def _kept(keep: Keep, good: list[Parsed], results: list[PointResult]) -> list[Parsed]:
        """Retention and working-hours capture: such points are acknowledged, not kept."""
        why = {g.fix.client_id: keep.why_not(g.fix.t) for g in good}
        if not any(why.values()):
            return good
        for r in results:
            reason = why.get(r["client_id"] or "")
            if r["status"] == "accepted" and reason:
                r["status"], r["reason"] = "discarded", reason
        return [g for g in good if not why[g.fix.client_id]]

    async def _process(
        self,
        db: asyncpg.Connection,
        device_id: uuid.UUID,
        row: asyncpg.Record,
        fresh: list[Fix],
        watch_at: Fix | None,
    ) -> tuple[dict[str, str], int, list[FenceToWatch] | None]:
        """Advance the engine; replay from a checkpoint when a point is older than the state
        (`row`, the device's state, locked). Also the fences to watch from `watch_at`."""
        tid = self.p.tenant_id
        fresh.sort(key=FIX_ORDER)
        last = (
            (ms(row["last_fix_time"]), str(row["last_client_id"])) if row["last_fix_time"] else None
        )
        current = DeviceState.from_dict(loads(row["state"])) if row["state"] else None
        # The engine's one replay algorithm (geofence/timeline.py) over the device's rows.
        run = await start_run(PgTimeline(db, tid, device_id), current, last, fresh, self.cfg)
        state, todo, recorded, replay = run.state, run.todo, run.recorded, run.replay
        matched = await match_fences(db, tid, todo, self.cfg.filters.max_accuracy_m, watch_at)
        # No `now`: a device that is uploading is not silent, however old its points. Silence
        # is a gap between its own points, or no word from it at all (the silent-device job).
        items = list(zip(todo, matched.near, strict=True))
        result = process(str(device_id), state, items, self.cfg)
        writer = EventWriter(db, self.p.tenant_id, self.p.id, device_id, fences=matched.fences)
        produced = await writer.resolve_stops(result.produced, recorded.keys())
        rec = reconcile(produced, recorded)
        events = await writer.write(rec.added, replayed=replay, retracted=rec.retracted)
        flags = {cid: str(f) for cid, f in result.flags.items()}
        changed = [f for f in todo if run.replay or run.resume or f.client_id in flags]
        if changed:
            await db.execute(
                FLAG_PINGS,
                tid,
                device_id,
                [uuid.UUID(f.client_id) for f in changed],
                [f.t for f in changed],
                [flags.get(f.client_id) for f in changed],
                min(f.t for f in changed),
                max(f.t for f in changed),
            )
        end = todo[-1]
        end_state = dumps(result.state.to_dict())
        await db.execute(
            SAVE_STATE,
            tid,
            device_id,
            to_dt(end.t),
            uuid.UUID(end.client_id),
            end_state,
            position(fresh, flags, row["last_fix_time"]),
            row["user_id"],
        )
        return flags, events, matched.watch
