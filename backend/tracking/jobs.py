"""The silent-device job: exit devices that stopped reporting, at their last point."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from backend.tracking.ingest import loads, ms, raw_connection, to_dt
from backend.tracking.records import EventWriter
from geofence.device import DeviceState, EngineConfig, Produced, process
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
        last = result.state.last
        end = json.dumps(result.state.to_dict())
        await db.execute(
            """UPDATE device_states SET state = $3::jsonb,
                      beacons = coalesce($4::jsonb, beacons), wifi = coalesce($5::jsonb, wifi),
                      updated_at = now()
               WHERE tenant_id = $1 AND device_id = $2""",
            r["tenant_id"],
            r["device_id"],
            end,
            prox_state.get("beacons"),
            prox_state.get("wifi"),
        )
        if last is not None:
            # The checkpoint at the last point now holds the exited state: a replay starting
            # after it continues from there.
            await db.execute(
                """INSERT INTO device_checkpoints (tenant_id, device_id, fix_time, client_id, state)
                   VALUES ($1, $2, $3, $4::uuid, $5::jsonb)
                   ON CONFLICT (tenant_id, device_id, fix_time, client_id)
                   DO UPDATE SET state = EXCLUDED.state""",
                r["tenant_id"],
                r["device_id"],
                to_dt(last.t),
                last.client_id,
                end,
            )
    return recorded
