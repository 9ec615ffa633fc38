"""Beacon and Wi-Fi scans: stored by (device, kind, time), run through proximity in order.

A scan older than the device's last processed scan of that kind is stored and marked late;
it does not rewind proximity state (beacon presence is about now, for store apps).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import asyncpg

from backend.auth.security import Principal
from backend.db.jsonb import loads
from backend.places.queries import places_of_access_points, places_of_beacons
from backend.tracking.ingest import require_own_device
from backend.tracking.points import ms
from backend.tracking.records import EventWriter
from backend.tracking.schemas import BeaconBatch, ScanResult, WifiBatch
from geofence.device import Produced
from geofence.proximity import BEACON, WIFI, Proximity, ProximityConfig


class ScanIngest:
    def __init__(self, db: asyncpg.Connection, principal: Principal) -> None:
        self.db = db
        self.p = principal

    async def beacons(self, batch: BeaconBatch, received: datetime) -> ScanResult:
        scans = [
            (
                s.time,
                {x.key(): x.rssi for x in s.sightings},
                [x.model_dump(mode="json") for x in s.sightings],
            )
            for s in batch.scans
        ]
        return await self._run(
            "beacon", batch.device_id, scans, received, places_of_beacons, BEACON
        )

    async def wifi(self, batch: WifiBatch, received: datetime) -> ScanResult:
        scans = [
            (
                s.time,
                {x.key(): x.rssi for x in s.sightings},
                [x.model_dump(mode="json") for x in s.sightings],
            )
            for s in batch.scans
        ]
        return await self._run(
            "wifi", batch.device_id, scans, received, places_of_access_points, WIFI
        )

    async def _run(
        self,
        kind: str,
        device_id: uuid.UUID,
        scans: list[tuple[datetime, dict[str, float], list[Any]]],
        received: datetime,
        known: Callable[
            [asyncpg.Connection, uuid.UUID, list[str]], Awaitable[dict[str, uuid.UUID]]
        ],
        cfg: ProximityConfig,
    ) -> ScanResult:
        db = self.db
        keep, state_row = await require_own_device(db, self.p, device_id)
        tid = self.p.tenant_id
        by_time = {t: (seen, raw) for t, seen, raw in scans}  # one scan per instant
        # Retention and working-hours capture, as for points.
        times = sorted(t for t in by_time if keep.why_not(t.timestamp()) is None)
        discarded = len(by_time) - len(times)
        rows = await db.fetch(
            """INSERT INTO scans (tenant_id, device_id, kind, scanned_at, received_at, sightings)
               SELECT $1, $2, $3, u.t, $4, u.s::jsonb
               FROM unnest($5::timestamptz[], $6::text[]) AS u(t, s)
               ON CONFLICT DO NOTHING RETURNING scanned_at""",
            tid,
            device_id,
            kind,
            received,
            times,
            [json.dumps(by_time[t][1]) for t in times],
        )
        fresh = sorted(r["scanned_at"] for r in rows)
        duplicates = len(times) - len(fresh)
        column = "beacons" if kind == "beacon" else "wifi"
        raw_state = loads(state_row[column])
        prox = Proximity.from_dict(raw_state) if raw_state else Proximity()
        late = [t for t in fresh if prox.last_scan_t is not None and ms(t) <= prox.last_scan_t]
        todo = [t for t in fresh if t not in late]
        if late:
            await db.execute(
                "UPDATE scans SET late = true WHERE tenant_id = $1 AND device_id = $2 "
                "AND kind = $3 AND scanned_at = ANY($4::timestamptz[])",
                tid,
                device_id,
                kind,
                late,
            )
        # Emitters the device is near already, too: their exits need their place.
        keys = sorted({k for t in todo for k in by_time[t][0]} | set(prox.emitters))
        places = await known(db, tid, keys) if keys else {}
        device = str(device_id)
        produced: list[Produced] = []
        for t in todo:
            seen = {k: v for k, v in by_time[t][0].items() if k in places}
            for e in prox.scan(device, ms(t), seen, cfg):
                produced.append(Produced(e, (ms(t), str(uuid.UUID(int=0)))))
        writer = EventWriter(db, self.p.tenant_id, self.p.id, device_id)
        writer.place_of_key = places
        events = await writer.write(produced, replayed=False)
        await db.execute(
            f"UPDATE device_states SET {column} = $3::jsonb "  # noqa: S608 - one of two column names fixed in code
            "WHERE tenant_id = $1 AND device_id = $2",
            tid,
            device_id,
            json.dumps(prox.to_dict()),
        )
        return ScanResult(
            accepted=len(fresh),
            duplicates=duplicates,
            late=len(late),
            discarded=discarded,
            events=events,
        )
