"""Closing stays nobody will close: devices that stopped reporting (the silent-device job),
and agents whose working day is over (the day-end job, and the app's `POST /ingest/day-end`).
Either way the stay ends at the device's last point."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.driver import raw_connection
from backend.db.jsonb import loads
from backend.plans.queries import profile_of
from backend.tracking.points import ms, to_dt
from backend.tracking.records import EventWriter
from backend.tracking.shift import Shift
from geofence.device import DeviceState, EngineConfig, Produced, end_day, process
from geofence.proximity import BEACON, WIFI, Proximity

BATCH = 500

# Silent: nothing heard from the device (no upload: `updated_at`) for the silence timeout
# while it is inside something, or for the beacons' quiet time while it sees an emitter. The
# exit is stamped at its last point, however old; a device uploading old points is not silent.
SILENT = """
SELECT ds.tenant_id, ds.device_id, d.user_id, ds.state, ds.beacons, ds.wifi
FROM device_states ds
JOIN devices d ON d.tenant_id = ds.tenant_id AND d.id = ds.device_id
WHERE ds.updated_at < $1
  AND ((ds.updated_at < $2 AND (ds.state->'presence' <> '{}'::jsonb
                                OR coalesce((ds.state->'stops'->>'started')::boolean, false)))
       OR ds.beacons->'emitters' <> '{}'::jsonb OR ds.wifi->'emitters' <> '{}'::jsonb)
ORDER BY ds.updated_at
LIMIT $3
FOR UPDATE OF ds SKIP LOCKED
"""


async def exit_silent_devices(
    session: AsyncSession, now: datetime, cfg: EngineConfig | None = None
) -> int:
    """Exits, stamped at each device's last point (or last sighting); returns events recorded."""
    cfg = cfg or EngineConfig()
    db = await raw_connection(session)
    quiet = min(BEACON.quiet_s, WIFI.quiet_s)
    rows = await db.fetch(
        SILENT, now - timedelta(seconds=quiet), now - timedelta(seconds=cfg.silent_after_s), BATCH
    )
    recorded = 0
    for r in rows:
        device = str(r["device_id"])
        writer = EventWriter(db, r["tenant_id"], r["user_id"], r["device_id"])
        state = DeviceState.from_dict(loads(r["state"]))
        result = process(device, state, [], cfg, now=ms(now))
        produced = await writer.resolve_stops(result.produced)
        prox_state: dict[str, str] = {}
        for column, pcfg in (("beacons", BEACON), ("wifi", WIFI)):
            raw = loads(r[column])
            if raw:
                prox = Proximity.from_dict(raw)
                by = (prox.last_scan_t or 0.0, "00000000-0000-0000-0000-000000000000")
                produced += [Produced(e, by) for e in prox.expire(device, ms(now), pcfg)]
                prox_state[column] = json.dumps(prox.to_dict())
        recorded += await writer.write(produced, replayed=False)
        await _save(db, r["tenant_id"], r["device_id"], result.state, prox_state)
    return recorded


async def _save(
    db: Any,
    tenant_id: uuid.UUID,
    device_id: uuid.UUID,
    state: DeviceState,
    prox_state: dict[str, str] | None = None,
) -> None:
    """The closed state, and the checkpoint at the last point holding it."""
    prox_state = prox_state or {}
    end = json.dumps(state.to_dict())
    await db.execute(
        """UPDATE device_states SET state = $3::jsonb,
                  beacons = coalesce($4::jsonb, beacons), wifi = coalesce($5::jsonb, wifi),
                  updated_at = now()
           WHERE tenant_id = $1 AND device_id = $2""",
        tenant_id,
        device_id,
        end,
        prox_state.get("beacons"),
        prox_state.get("wifi"),
    )
    last = state.last
    if last is not None:
        # The checkpoint at the last point now holds the closed state: a replay starting
        # after it continues from there.
        await db.execute(
            """INSERT INTO device_checkpoints (tenant_id, device_id, fix_time, client_id, state)
               VALUES ($1, $2, $3, $4::uuid, $5::jsonb)
               ON CONFLICT (tenant_id, device_id, fix_time, client_id)
               DO UPDATE SET state = EXCLUDED.state""",
            tenant_id,
            device_id,
            to_dt(last.t),
            last.client_id,
            end,
        )


# The grace after the shift's end before a stay still open is closed: enough for a visit
# running late to send its next points, shorter than the silence timeout.
DAY_END_GRACE = timedelta(minutes=15)

# Devices with a stay open, not closed yet, and no point for the grace time: whether their
# agent's shift is over is decided per row (the profile's local shift end on the day of the
# last point). Keyset pages, so rows still inside their shift do not hide the others.
OPEN_AND_QUIET = f"""
SELECT ds.tenant_id, ds.device_id, d.user_id, ds.state, ds.last_fix_time, ap.settings AS profile
FROM device_states ds
JOIN devices d ON d.tenant_id = ds.tenant_id AND d.id = ds.device_id
CROSS JOIN LATERAL {profile_of("d.tenant_id", "d.user_id")} ap
WHERE ds.last_fix_time < $1
  AND (ds.state->'presence' <> '{{}}'::jsonb
       OR coalesce((ds.state->'stops'->>'started')::boolean, false))
  AND ds.state->>'silenced_at' IS NULL
  AND (ds.last_fix_time, ds.device_id) > ($2, $3)
ORDER BY ds.last_fix_time, ds.device_id
LIMIT $4
FOR UPDATE OF ds SKIP LOCKED
"""  # noqa: S608 - the plans domain's fragment


def shift_over(profile: Any, last_fix: datetime, now: datetime) -> bool:
    """The agent's shift, on the local day of their last point, ended a grace time ago."""
    shift = Shift.of(loads(profile) if profile else None)
    if shift is None:
        return False
    local = last_fix.astimezone(shift.tz)
    end = datetime.combine(local.date(), shift.end, shift.tz)
    return last_fix <= end + DAY_END_GRACE <= now


async def close_finished_days(session: AsyncSession, now: datetime) -> int:
    """Stays still open after the agent's shift (plus the grace) end at the last point."""
    db = await raw_connection(session)
    recorded = 0
    after: tuple[datetime, uuid.UUID] = (datetime.min.replace(tzinfo=UTC), uuid.UUID(int=0))
    while True:
        rows = await db.fetch(OPEN_AND_QUIET, now - DAY_END_GRACE, *after, BATCH)
        for r in rows:
            if shift_over(r["profile"], r["last_fix_time"], now):
                recorded += await close_stays(
                    db, r["tenant_id"], r["user_id"], r["device_id"], r["state"]
                )
        if len(rows) < BATCH:
            return recorded
        after = (rows[-1]["last_fix_time"], rows[-1]["device_id"])


async def close_stays(
    db: Any, tenant_id: uuid.UUID, user_id: uuid.UUID, device_id: uuid.UUID, raw_state: Any
) -> int:
    """End the device's open stays at its last point; the events recorded."""
    state = DeviceState.from_dict(loads(raw_state) if raw_state else None)
    produced = end_day(str(device_id), state)
    if not produced:
        return 0
    writer = EventWriter(db, tenant_id, user_id, device_id)
    recorded = await writer.write(await writer.resolve_stops(produced), replayed=False)
    await _save(db, tenant_id, device_id, state)
    return recorded
