"""The stays next door, for the event writer (records.py `EventWriter`): customers 15-50 m
apart are where GPS cannot tell one door from the next. A fence dwelling while the agent
stayed at the neighbour, two visits of one stay, a visit ended where its stop was not: each is
settled here by the weight of evidence (attribution.py), in the writer's transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from backend.db.jsonb import dumps
from backend.tracking.attribution import (
    ENDED_CUSTOMER_VISITS,
    FENCE_VISITS_KEPT,
    NEIGHBOUR_M,
    REATTRIBUTE,
    STAY_FIXES,
    STOP_CANDIDATES,
    STOP_CUSTOMER_M,
    Attribution,
    attribute_stop,
)
from backend.tracking.stays import (
    MERGE_STAY,
    RESEEN,
    SAME_STAY,
    Sightings,
    settle_visits_sql,
    weighed,
)
from geofence.stops import settled_position
from geofence.types import Event, Kind

# A customer's fence announces a stay at that customer (docs/ingest.md): when the visit its
# sighting belongs to is at another customer (a neighbour's stay took it in, or it was
# attributed again), its entered / dwelled / exited no longer stand. Found through the
# device's events by time (their index); the sighting's own record stays. Not undone when
# the visit comes back to the fence's customer: a retraction does not say whether it was this
# one or a replay's (an exit a replay moved keeps its sighting), and a replay's must stand.
NOT_THEIR_STAY = """
UPDATE events e SET retracted_at = now()
FROM visit_sightings s
JOIN visits v ON v.tenant_id = s.tenant_id AND v.id = s.visit_id
WHERE s.tenant_id = $1 AND s.visit_id = ANY($2::uuid[]) AND s.source = 'geofence'
  AND v.retracted_at IS NULL AND v.customer_id IS NOT NULL
  AND e.tenant_id = $1 AND e.device_id = $3 AND e.visit_id = s.id
  AND e.occurred_at >= s.started_at - interval '10 minutes'
  AND e.occurred_at <= coalesce(s.ended_at, 'infinity') + interval '10 minutes'
  AND e.kind IN ('entered', 'dwelled', 'exited')
  AND e.fence_id IS NOT NULL AND e.customer_id IS NOT NULL
  AND e.customer_id <> v.customer_id AND e.retracted_at IS NULL
"""


def _at(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


class NextDoor(Sightings):
    """The neighbours half of the event writer: which of two doors a stay was at."""

    async def _not_their_stay(self) -> None:
        """Retract the fence events of customers whose stay a visit elsewhere took in."""
        await self.db.execute(NOT_THEIR_STAY, self.tenant_id, list(self.touched), self.device_id)

    async def _attribute_spans(
        self, spans: list[tuple[Any, datetime, datetime]], head: float, tail: float
    ) -> dict[int, Attribution]:
        """Where the device of each (device, from, to) was (settled_position of its fixes),
        and the customer that makes it, by the weight of evidence; by index. Two queries."""
        fixes = await self.db.fetch(
            STAY_FIXES,
            self.tenant_id,
            list(range(len(spans))),
            [d for d, _, _ in spans],
            [a for _, a, _ in spans],
            [b for _, _, b in spans],
        )
        of: dict[int, list[tuple[float, float, float, float]]] = {}
        for f in fixes:
            of.setdefault(f["i"], []).append(
                (f["fix_time"].timestamp(), f["lat"], f["lon"], f["accuracy_m"])
            )
        where = {i: p for i, f in of.items() if (p := settled_position(f, head, tail))}
        if not where:
            return {}
        known = sorted(where)
        rows = await self.db.fetch(
            STOP_CANDIDATES,
            self.tenant_id,
            known,
            [where[i][0] for i in known],
            [where[i][1] for i in known],
            STOP_CUSTOMER_M,
            [(spans[i][1].timestamp() + spans[i][2].timestamp()) / 2 for i in known],
            self.user_id,
        )
        by_span: dict[int, list[Any]] = {}
        for r in rows:
            by_span.setdefault(r["i"], []).append(r)
        return {i: a for i, c in by_span.items() if (a := attribute_stop(c)) is not None}

    async def _elsewhere(
        self, fenced: list[tuple[int, Any, Any, float]], events: list[Event]
    ) -> set[Any]:
        """Stays dwelling at a customer's fence while the weight of evidence (attribute_stop)
        puts the agent at another customer next door: the visit ids not to record (the stop
        there makes the visit). Judged on the latter half of the dwell (the fixes from the
        fence's enter to its dwell: the same whatever batches they came in)."""
        if not fenced:
            return set()
        dwelled = {e.visit_id: e.t for e in events if e.kind is Kind.DWELLED and e.visit_id}
        spans = [
            (self.device_id, _at(t), _at(dwelled.get(str(v), t + 300.0))) for _, v, _, t in fenced
        ]
        chosen = await self._attribute_spans(spans, 0.5, 0.0)
        return {
            visit
            for i, (_, visit, customer, _) in enumerate(fenced)
            if (a := chosen.get(i)) is not None and a.customer_id != customer
        }

    async def _where_the_stay_was(self) -> None:
        """Ended customer visits of this batch, attributed again from their settled position
        among the customers within STOP_CUSTOMER_M (a person's choice stands)."""
        if self.user_id is None:
            return
        ended = await self.db.fetch(ENDED_CUSTOMER_VISITS, self.tenant_id, list(self.touched))
        if not ended:
            return
        spans = [(v["device_id"], v["arrived_at"], v["departed_at"]) for v in ended]
        changes = []
        for i, chosen in (await self._attribute_spans(spans, 0.2, 0.2)).items():
            if chosen.customer_id != ended[i]["customer_id"]:
                changes.append(
                    {"id": str(ended[i]["id"]), "customer_id": str(chosen.customer_id),
                     "by": chosen.by, "runners": chosen.runners_up}
                )  # fmt: skip
        if changes:
            await self.db.execute(REATTRIBUTE, self.tenant_id, dumps(changes))

    async def _one_stay_next_door(self, until: float) -> None:
        """Visits of this batch that overlap another of the agent's at a customer next door
        are one stay: the one whose customer was better chosen takes in the other."""
        pairs = await self.db.fetch(SAME_STAY, self.tenant_id, list(self.touched), until)
        done: set[Any] = set()
        kept: set[Any] = set()
        for r in pairs:
            if r["a"] in done or r["b"] in done:
                continue
            a = (weighed(r["a_source"], r["a_also"], r["a_by"]), -r["a_arrived"].timestamp())
            b = (weighed(r["b_source"], r["b_also"], r["b_by"]), -r["b_arrived"].timestamp())
            keep, drop = (r["a"], r["b"]) if a >= b else (r["b"], r["a"])
            await self.db.execute(MERGE_STAY, self.tenant_id, drop, keep)
            done |= {keep, drop}
            kept.add(keep)
            self.touched |= {keep, drop}
        if kept:
            await self.db.execute(RESEEN, self.tenant_id, list(kept))
            await self.db.execute(settle_visits_sql(self.tenant_id, kept))

    async def _next_door(self, events: list[Event], meta: list[dict[str, Any]]) -> set[Any]:
        """Stays at a customer's fence that belong to a planned visit next door: the visit ids
        whose events are not recorded. A stay that dwells there is dropped when the agent
        has another customer planned within the hour and within NEIGHBOUR_M and not this one
        (FENCE_VISITS_KEPT); its exit, in a later batch, goes with it. Customers' fences
        announce a stay only when it dwells (the engine's `hold`), so nothing of it was
        recorded before."""
        if self.user_id is None:
            return set()
        fenced = [
            (k, m["visit_id"], m["customer_id"], e.t)
            for k, (e, m) in enumerate(zip(events, meta, strict=True))
            if e.kind is Kind.VISIT_STARTED
            and e.source == "geofence"
            and m["customer_id"] is not None
            and m["visit_id"] is not None
        ]
        muted: set[Any] = set()
        if fenced:
            kept = {
                r["i"]
                for r in await self.db.fetch(
                    FENCE_VISITS_KEPT,
                    self.tenant_id,
                    [k for k, _, _, _ in fenced],
                    [c for _, _, c, _ in fenced],
                    [t for _, _, _, t in fenced],
                    self.user_id,
                    NEIGHBOUR_M,
                )
            }
            muted = {v for k, v, _, _ in fenced if k not in kept}
            muted |= await self._elsewhere([f for f in fenced if f[1] not in muted], events)
        # Ends of stays whose start is in neither this batch nor the log: muted earlier.
        entered = {
            m["visit_id"] for e, m in zip(events, meta, strict=True) if e.kind is Kind.ENTERED
        }
        ends = {
            m["visit_id"]: e.t
            for e, m in zip(events, meta, strict=True)
            if e.kind in (Kind.DWELLED, Kind.EXITED, Kind.VISIT_ENDED)
            and m["customer_id"] is not None
            and m["fence_id"] is not None
            and m["visit_id"] is not None
            and m["visit_id"] not in entered
            and m["visit_id"] not in muted
        }
        if ends:
            # Within the week before (the device's events, by their index): no stay at a
            # door lasts longer; a silent device is exited long before.
            logged = {
                r["visit_id"]
                for r in await self.db.fetch(
                    "SELECT visit_id FROM events WHERE tenant_id = $1 AND device_id = $2 "
                    "AND occurred_at >= to_timestamp($4) - interval '7 days' "
                    "AND kind = 'entered' AND visit_id = ANY($3::uuid[])",
                    self.tenant_id,
                    self.device_id,
                    list(ends),
                    min(ends.values()),
                )
            }
            muted |= set(ends) - logged
        return muted
