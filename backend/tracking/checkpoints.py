"""After a batch: the device's engine state, a checkpoint to replay late points from, and the
agent's newest position for the live feed (backend/live/), in one statement."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from backend.live.feed import into_feed
from geofence.types import Fix

# The agent's newest position ($6, JSON; NULL: none to tell) to the live feed, as the agent's
# ($7).
_POSITION = into_feed(
    """(SELECT $1::uuid AS tenant_id, 'position' AS kind, $7::uuid AS agent_id,
               $2::uuid AS device_id, $6::jsonb AS data WHERE $6::jsonb IS NOT NULL) p"""
)
# A checkpoint at most every 10 minutes of fix time (a replay starts from the one before the
# late point and re-runs the minutes since), none kept past 8 days.
SAVE_STATE = f"""WITH cp AS (
     INSERT INTO device_checkpoints (tenant_id, device_id, fix_time, client_id, state)
     SELECT $1, $2, $3, $4, $5::jsonb
     WHERE NOT EXISTS (
         SELECT 1 FROM device_checkpoints WHERE tenant_id = $1 AND device_id = $2
         AND fix_time > $3::timestamptz - interval '10 minutes'
         AND fix_time <= $3::timestamptz)
     ON CONFLICT DO NOTHING
   ), old AS (
     DELETE FROM device_checkpoints WHERE tenant_id = $1 AND device_id = $2
     AND fix_time < $3::timestamptz - interval '8 days'
   ), live AS ({_POSITION})
   UPDATE device_states SET state = $5::jsonb, last_fix_time = $3, last_client_id = $4
   WHERE tenant_id = $1 AND device_id = $2"""  # noqa: S608 - the live domain's fragment


def position(
    fresh: Sequence[Fix], flags: Mapping[str, str], last_fix: datetime | None
) -> str | None:
    """The newest of a batch's new points the engine kept (no flag), as the live feed tells
    it; None when there is none, or when the device already sent a newer one (a late batch
    does not move the agent back on the map)."""
    good = [f for f in fresh if f.client_id not in flags]
    if not good:
        return None
    f = max(good, key=lambda x: (x.t, x.client_id))
    if last_fix is not None and f.t <= last_fix.timestamp():
        return None
    at = datetime.fromtimestamp(f.t, UTC).isoformat(timespec="milliseconds")
    return json.dumps(
        {
            "lat": f.lat,
            "lon": f.lon,
            "accuracy_m": f.accuracy_m,
            "speed_mps": f.speed_mps,
            "fix_at": at.replace("+00:00", "Z"),
        }
    )
