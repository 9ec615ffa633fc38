"""Turning engine events into event rows and visits (shared by points and scans)."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from typing import Any

import asyncpg

from backend.db.jsonb import dumps
from backend.geofences.queries import owners_of
from backend.tracking.announce import announce
from backend.tracking.attribution import (
    STOP_CANDIDATES,
    STOP_CUSTOMER_M,
    Attribution,
    attribute_stop,
)
from backend.tracking.neighbours import NextDoor
from backend.tracking.stays import str_or_none, uuid_or_none, visit_id_for
from backend.webhooks.outbox import with_deliveries
from geofence.device import Produced
from geofence.types import Event, Kind, make_event

_FENCE_KINDS = {Kind.ENTERED, Kind.EXITED, Kind.DWELLED}
# The engine's visits are one source's sightings of a stay; their events are recorded as such.
# What is said of the visit they make or join (visit_started, _ended, _updated, _retracted)
# is the visit's own (announce.py). Events recorded before kept the engine's kinds.
STORED_KIND = {Kind.VISIT_STARTED: "sighting_started", Kind.VISIT_ENDED: "sighting_ended"}
SIGHTING_STARTS = ("sighting_started", "beacon_entered", "wifi_entered", "visit_started")
SIGHTING_ENDS = ("sighting_ended", "beacon_exited", "wifi_exited", "visit_ended")


# Rows go in as one JSON parameter: cheaper for asyncpg than eleven arrays. The same
# statement writes the webhook deliveries of the events it inserted (the outbox).
# An event a replay retracted and a later one implies again (the points that undid it were
# themselves outweighed: a late batch, then an earlier one) has the same id, its facts being
# the same: it stands again (its retraction cleared), and is not sent again (nothing told a
# receiver it was gone). A live one is left as it is.
INSERT_EVENTS = with_deliveries(
    """
WITH written AS (
    INSERT INTO events (tenant_id, id, kind, occurred_at, device_id, user_id, subject, fence_id,
                        place_id, customer_id, visit_id, data, produced_by_time,
                        produced_by_client, replayed)
    SELECT $1, u.id, u.kind, to_timestamp(u.t), $2, $3, u.subject, u.fence_id, u.place_id,
           u.customer_id, u.visit_id, coalesce(u.data, '{}'), to_timestamp(u.by_t), u.by_c, $4
    FROM jsonb_to_recordset($5::jsonb) AS u(id uuid, kind text, t float8, subject text,
         fence_id uuid, place_id uuid, customer_id uuid, visit_id uuid, data jsonb,
         by_t float8, by_c uuid)
    ON CONFLICT (tenant_id, id) DO UPDATE
        SET retracted_at = NULL, replayed = true,
            produced_by_time = EXCLUDED.produced_by_time,
            produced_by_client = EXCLUDED.produced_by_client
        WHERE events.retracted_at IS NOT NULL
    RETURNING tenant_id, id, kind, occurred_at, fence_id, place_id, xmax = 0 AS inserted
), ins AS (
    SELECT * FROM written WHERE inserted
)""",
    """
SELECT id FROM written
""",
)


# Stops whose start was recorded: their visit's customer, and the ids of the events that
# started them (a replay may be about to take those back).
STOPS_RECORDED = """
SELECT s.id, v.customer_id,
       ARRAY(SELECT e.id::text FROM events e
             WHERE e.tenant_id = $1 AND e.device_id = $3 AND e.visit_id = s.id
               AND e.kind = 'sighting_started' AND e.retracted_at IS NULL
               AND e.occurred_at BETWEEN s.started_at - interval '1 second'
                                     AND s.started_at + interval '1 second') AS starts
FROM visit_sightings s
JOIN visits v ON v.tenant_id = s.tenant_id AND v.id = s.visit_id
WHERE s.tenant_id = $1 AND s.id = ANY($2::uuid[])
"""


class EventWriter(NextDoor):
    """Records a device's events and keeps its visits in step, in the caller's transaction."""

    def __init__(
        self,
        db: asyncpg.Connection,
        tenant_id: uuid.UUID,
        user_id: uuid.UUID | None,
        device_id: uuid.UUID,
        fences: dict[uuid.UUID, tuple[Any, Any]] | None = None,
    ) -> None:
        """`fences`: the place and customer of fences already read in this transaction
        (id -> (place id, customer id)); others are looked up when an event names them."""
        self.db = db
        self.tenant_id = tenant_id
        self.user_id = user_id
        self.device_id = device_id
        self.fence_of = dict(fences or {})
        self.customer_of_stop: dict[str, uuid.UUID] = {}
        self.attribution_of_stop: dict[str, Attribution] = {}
        self.place_of_key: dict[str, uuid.UUID] = {}
        self.touched: set[Any] = set()  # visits changed by this writer, not yet announced
        # Whether a customer's visit (not a place's) began or ended in this write: only then
        # can two of them be one stay, or one need attributing again.
        self.customer_began = self.customer_ended = False

    async def resolve_stops(
        self, produced: list[Produced], replaying: Collection[str] = ()
    ) -> list[Produced]:
        """Keep stop visits only where a customer without a fence is near (one query)."""
        stops = {p.event.subject: p.event for p in produced if p.event.source == "stop"}
        if not stops:
            return produced
        ids = list(stops)
        rows = await self.db.fetch(
            STOP_CANDIDATES,
            self.tenant_id,
            list(range(len(ids))),
            [stops[s].data["lat"] for s in ids],
            [stops[s].data["lon"] for s in ids],
            STOP_CUSTOMER_M,
            [stops[s].t for s in ids],
            self.user_id,
        )
        by_stop: dict[int, list[Any]] = {}
        for r in rows:
            by_stop.setdefault(r["i"], []).append(r)
        self.attribution_of_stop = {}
        # A stop that ends in this batch is not yet recorded: the customer it was at is seen
        # (STOP_CANDIDATES) for the stops that begin after it here (a move next door).
        ended: dict[Any, float] = {}
        order = sorted(
            by_stop, key=lambda i: (stops[ids[i]].t, stops[ids[i]].kind is not Kind.VISIT_ENDED)
        )
        for i in order:
            e = stops[ids[i]]
            candidates = [
                {**c, "planned": c["planned"] and not ended.get(c["id"], e.t + 1) <= e.t}
                for c in by_stop[i]
            ]
            chosen = attribute_stop(candidates)
            if chosen is not None and e.kind is Kind.VISIT_ENDED:
                ended[chosen.customer_id] = e.t
            if chosen is not None:
                # At a fenced customer too: it joins that fence's visit, and where the fence
                # of a neighbour dwelled instead, the stay is one visit at the customer the
                # stop chose (_one_stay_next_door).
                self.attribution_of_stop[ids[i]] = chosen
        self.customer_of_stop = {k: a.customer_id for k, a in self.attribution_of_stop.items()}
        return await self._stop_ends(produced, replaying)

    async def _stop_ends(
        self, produced: list[Produced], replaying: Collection[str]
    ) -> list[Produced]:
        """The stops' events to record: those near a customer, and every end of a stop whose
        start was recorded (wherever it ended: a stop cut next door ends where it was
        before, maybe the car park). A stop that ends near a customer but began with no
        customer near enough (where it began is the mean of its first five minutes: the car
        park, the walk in, 60-80 m out) was not recorded then: its start is recorded with its
        end, at the time it began and where the whole stop was. `replaying`: the ids of the
        events a replay reconsiders; a start among them is not recorded yet (the replay
        implies it again, or takes it back)."""
        begun = {
            p.event.subject
            for p in produced
            if p.event.source == "stop" and p.event.kind is Kind.VISIT_STARTED
        }
        ended = [
            p
            for p in produced
            if p.event.source == "stop"
            and p.event.kind is Kind.VISIT_ENDED
            and p.event.subject not in begun
        ]
        recorded: dict[str, Any] = {}
        if ended:
            recorded = {
                str(r["id"]): r["customer_id"]
                for r in await self.db.fetch(
                    STOPS_RECORDED,
                    self.tenant_id,
                    [uuid_or_none(p.event.subject) for p in ended],
                    self.device_id,
                )
                if not (r["starts"] and set(r["starts"]) <= set(replaying))
            }
        for subject, customer in recorded.items():
            if subject not in self.customer_of_stop and customer is not None:
                self.customer_of_stop[subject] = customer
        kept = [
            p
            for p in produced
            if p.event.source != "stop" or p.event.subject in self.customer_of_stop
        ]
        starts = {
            id(p): Produced(
                make_event(
                    str(self.device_id),
                    Kind.VISIT_STARTED,
                    p.event.t - float(p.event.data.get("duration_s") or 0.0),
                    p.event.subject,
                    visit_id=p.event.subject,
                    source="stop",
                    lat=p.event.data.get("lat"),
                    lon=p.event.data.get("lon"),
                ),
                p.by,
            )
            for p in ended
            if p.event.subject not in recorded and p.event.subject in self.customer_of_stop
        }
        if not starts:
            return kept
        return [q for p in kept for q in ((starts[id(p)], p) if id(p) in starts else (p,))]

    async def _fences(self, events: list[Event]) -> dict[uuid.UUID, tuple[Any, Any]]:
        ids = {
            u
            for e in events
            if (e.kind in _FENCE_KINDS or e.source == "geofence") and (u := uuid_or_none(e.subject))
        }
        missing = ids.difference(self.fence_of)
        if missing:
            self.fence_of.update(await owners_of(self.db, self.tenant_id, list(missing)))
        return {u: self.fence_of[u] for u in ids if u in self.fence_of}

    def _row(self, e: Event, fences: dict[uuid.UUID, tuple[Any, Any]]) -> dict[str, Any]:
        fence_id = place_id = customer_id = None
        visit = uuid_or_none(e.visit_id)
        if e.kind in _FENCE_KINDS or e.source == "geofence":
            fence_id = uuid_or_none(e.subject)
            place_id, customer_id = fences.get(fence_id, (None, None)) if fence_id else (None, None)
        elif e.source == "stop":
            customer_id = self.customer_of_stop.get(e.subject)
        elif e.source in ("beacon", "wifi"):
            place_id = self.place_of_key.get(e.subject)
            arrived = e.t - e.data.get("duration_s", 0.0) if e.kind.endswith("exited") else e.t
            visit = uuid.UUID(visit_id_for(str(self.device_id), e.source, e.subject, arrived))
        return {
            "fence_id": fence_id,
            "place_id": place_id,
            "customer_id": customer_id,
            "visit_id": visit,
        }

    async def write(
        self,
        added: list[Produced],
        *,
        replayed: bool,
        retracted: Sequence[str] = (),
    ) -> int:
        """Insert new events, retract stale ones, update the visits they imply, and record
        what changed of those visits as their events (announce.py)."""
        recorded = await self._write(added, replayed=replayed, retracted=retracted)
        if self.touched:
            if added and (self.customer_began or self.customer_ended):
                await self._one_stay_next_door(max(p.event.t for p in added))
            if self.customer_ended:
                await self._where_the_stay_was()
            if self.user_id is not None and (self.customer_began or self.customer_ended):
                await self._not_their_stay()
            touched, self.touched = self.touched, set()
            self.customer_began = self.customer_ended = False
            await announce(self.db, self.tenant_id, touched)
        return recorded

    async def _write(
        self, added: list[Produced], *, replayed: bool, retracted: Sequence[str]
    ) -> int:
        if retracted:
            rows = await self.db.fetch(
                """UPDATE events SET retracted_at = now()
                   WHERE tenant_id = $1 AND id = ANY($2::uuid[]) AND retracted_at IS NULL
                   RETURNING kind, visit_id""",
                self.tenant_id,
                [uuid.UUID(x) for x in retracted],
            )
            started = [
                r["visit_id"] for r in rows if r["kind"] in SIGHTING_STARTS and r["visit_id"]
            ]
            ended = [r["visit_id"] for r in rows if r["kind"] in SIGHTING_ENDS and r["visit_id"]]
            if started:
                await self._unsee(started)
            if ended:
                await self._reopen(ended)
            # A replay took back what it did: customers' visits may have changed either way.
            self.customer_began = self.customer_ended = bool(started or ended)
        if not added:
            return 0
        events = [p.event for p in added]
        fences = await self._fences(events)
        meta = [self._row(e, fences) for e in events]
        muted = await self._next_door(events, meta)
        if muted:
            kept = [k for k, m in enumerate(meta) if m["visit_id"] not in muted]
            added = [added[k] for k in kept]
            events = [events[k] for k in kept]
            meta = [meta[k] for k in kept]
            if not added:
                return 0
        rows = [
            {
                "id": e.id,
                "kind": STORED_KIND.get(e.kind, str(e.kind)),
                "t": e.t,
                "subject": e.subject,
                "fence_id": str_or_none(m["fence_id"]),
                "place_id": str_or_none(m["place_id"]),
                "customer_id": str_or_none(m["customer_id"]),
                "visit_id": str_or_none(m["visit_id"]),
                "data": e.data,
                "by_t": p.by[0],
                "by_c": p.by[1] if uuid_or_none(p.by[1]) else None,
            }
            for e, m, p in zip(events, meta, added, strict=True)
        ]
        inserted = await self.db.fetch(
            INSERT_EVENTS,
            self.tenant_id,
            self.device_id,
            self.user_id,
            replayed,
            dumps(rows),
        )
        await self._visits(events, meta)
        return len(inserted)

    async def _visits(self, events: list[Event], meta: list[dict[str, Any]]) -> None:
        opens, closes = [], []
        for e, m in zip(events, meta, strict=True):
            if m["visit_id"] is None:
                continue
            starts = e.kind is Kind.VISIT_STARTED or (
                e.kind in (Kind.BEACON_ENTERED, Kind.WIFI_ENTERED) and m["place_id"] is not None
            )
            ends = e.kind is Kind.VISIT_ENDED or (
                e.kind in (Kind.BEACON_EXITED, Kind.WIFI_EXITED) and m["place_id"] is not None
            )
            if starts:
                confidence = {"geofence": 0.9, "beacon": 0.95, "wifi": 0.8, "stop": 0.6}.get(
                    e.source or "", 0.5
                )
                chosen = self.attribution_of_stop.get(e.subject) if e.source == "stop" else None
                opens.append(
                    (
                        m["visit_id"],
                        e.source,
                        m["customer_id"],
                        m["place_id"],
                        m["fence_id"],
                        e.t,
                        e.data.get("lat"),
                        e.data.get("lon"),
                        confidence,
                        chosen.by if chosen else e.source,
                        chosen.runners_up if chosen else None,
                    )
                )
                self.customer_began |= m["customer_id"] is not None and m["place_id"] is None
            elif ends:
                closes.append((m["visit_id"], e.t))
                self.customer_ended |= m["customer_id"] is not None and m["place_id"] is None
        if opens:
            await self._see(opens, {visit: t for visit, t in closes})
        if closes:
            await self._close(closes)
