"""When a fence is created, moved or deleted, devices it now contains (or no longer does)
get a synthetic enter or exit at once, stamped with the time of the change."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.driver import raw_connection
from backend.db.jsonb import loads
from backend.geofences.queries import geometry_of, rule_of
from backend.tracking.matching import match_fences
from backend.tracking.points import ms, to_dt
from backend.tracking.records import EventWriter
from geofence.device import DeviceState, EngineConfig, Produced
from geofence.types import FenceRule, Fix

# Devices whose last fix is recent enough to say where they are now.
AFFECTED = f"""
SELECT ds.device_id, d.user_id, ds.state
FROM device_states ds JOIN devices d ON d.tenant_id = ds.tenant_id AND d.id = ds.device_id
WHERE ds.tenant_id = $1
  AND (ds.state->'presence' ? $2::text
       OR ($3::boolean AND ds.last_fix_time > $4 AND ST_Intersects(
             {geometry_of("$1", "$2::uuid")},
             ST_SetSRID(ST_MakePoint((ds.state->'last'->>'lon')::float8,
                                     (ds.state->'last'->>'lat')::float8), 4326))))
FOR UPDATE OF ds
"""  # noqa: S608 - the geofences domain's subquery


async def apply_fence_change(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    fence_id: uuid.UUID,
    now: datetime,
    *,
    deleted: bool = False,
    cfg: EngineConfig | None = None,
) -> int:
    """Synthetic events for every device the change moves in or out; returns how many."""
    cfg = cfg or EngineConfig()
    db = await raw_connection(session)
    since = now.timestamp() - cfg.silent_after_s
    rows = await db.fetch(AFFECTED, tenant_id, str(fence_id), not deleted, to_dt(since))
    if not rows:
        return 0
    known = None if deleted else await rule_of(db, tenant_id, fence_id)
    fid = str(fence_id)
    rule = FenceRule(fid, *known) if known else FenceRule(fid)
    states = [DeviceState.from_dict(loads(r["state"])) for r in rows]
    lasts: list[Fix] = [s.last for s in states if s.last is not None]
    distances = {}
    if not deleted and lasts:
        near = (await match_fences(db, tenant_id, lasts, cfg.filters.max_accuracy_m)).near
        distances = {
            f.client_id: n.get(fid, (float("inf"), rule))[0]
            for f, n in zip(lasts, near, strict=True)
        }
    at = ms(now)
    reason = "fence_deleted" if deleted else "fence_changed"
    recorded = 0
    for r, state in zip(rows, states, strict=True):
        last = state.last
        if last is None:
            continue
        d = distances.get(last.client_id, float("inf"))
        stay = state.presence.stays.get(fid)
        if stay is not None and stay.inside:
            inside = d <= max(last.accuracy_m, rule.exit_buffer_m)
        else:
            inside = d <= -last.accuracy_m
        device = str(r["device_id"])
        events = state.presence.force(device, fid, inside, at, rule, reason)
        if not events:
            continue
        writer = EventWriter(db, tenant_id, r["user_id"], r["device_id"])
        recorded += await writer.write([Produced(e, last.order) for e in events], replayed=False)
        end = json.dumps(state.to_dict())
        await db.execute(
            "UPDATE device_states SET state = $3::jsonb WHERE tenant_id = $1 AND device_id = $2",
            tenant_id,
            r["device_id"],
            end,
        )
    return recorded
