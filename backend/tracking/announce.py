"""What a visit's events say: one started / ended pair a stay, and corrections after it.

A visit is made and changed by many hands: each source's sighting (a fence, a stop, beacons,
Wi-Fi), a manual check-in or check-out, a replay of a late batch, a reassignment. Rather than
each of them sending an event of its own (a store would hear of one shopper's stay three or
four times), each visit remembers what its events have said (`told`: nothing, started, ended
or retracted, and the arrival, departure, customer, place and outcome they said). After every change
the visits it touched are compared with that, in the same transaction, and the difference
becomes events, with their webhook deliveries (the outbox):

- never told, or told retracted and live again: `visit_started`, and `visit_ended` if it has
  ended;
- told started: `visit_ended` when it ends; `visit_updated` first if its arrival, customer,
  place or outcome changed;
- told ended: `visit_updated` when its arrival, departure (a late batch, or a reopening:
  `departed_at` null), customer, place or outcome (an agent's manual action) changed;
- retracted after it was told: `visit_retracted`.

Another source joining a visit (its `sources`) is not a change worth an event. Each event
carries the visit as it now is (`data`: arrival, departure, duration, sources, confidence, how
its customer was chosen; an update also what it was and which fields changed), so a receiver
can keep its copy by upserting on `visit_id` whatever it missed. Started and ended are stamped
when they happened (a late batch's are not pushed as live alerts: docs/webhooks.md);
corrections when they are made.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any

import asyncpg

from backend.live.feed import into_feed
from backend.webhooks.outbox import with_deliveries

VISIT_EVENT_KINDS = ("visit_started", "visit_ended", "visit_updated", "visit_retracted")


def _iso(column: str) -> str:
    """A time in the form the API writes it (UTC, `Z`)."""
    return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""


_MOVED = """(v.told_arrived_at IS DISTINCT FROM v.arrived_at
          OR v.told_customer_id IS DISTINCT FROM v.customer_id
          OR v.told_place_id IS DISTINCT FROM v.place_id
          OR v.told_outcome IS DISTINCT FROM v.outcome)"""

# What the live streams carry of each event (backend/live/): the event with its visit.
_LIVE = f"""(SELECT tenant_id, kind, user_id AS agent_id, device_id,
           data || jsonb_strip_nulls(jsonb_build_object(
               'event_id', id, 'visit_id', visit_id, 'customer_id', customer_id,
               'place_id', place_id, 'occurred_at', {_iso("occurred_at")})) AS data
    FROM ins
    ORDER BY visit_id, array_position(ARRAY['visit_started', 'visit_updated', 'visit_ended',
                                            'visit_retracted'], kind::text)) e"""  # noqa: S608 - constants

ANNOUNCE = with_deliveries(
    f"""
WITH v AS (
    SELECT v.*, v.retracted_at IS NULL AS live,
           ARRAY[v.source] || ARRAY(SELECT x FROM unnest(v.also_seen_by) x WHERE x <> v.source)
               AS sources
    FROM visits v
    WHERE v.tenant_id = $1 AND v.id = ANY($2::uuid[])
), said AS (
    SELECT v.*, k.kind, k.at, k.ord
    FROM v
    CROSS JOIN LATERAL (VALUES
        ('visit_started', v.arrived_at, 1, v.live AND (v.told IS NULL OR v.told = 'retracted')),
        ('visit_updated', now(), 2,
         v.live AND ((v.told = 'started' AND {_MOVED})
                     OR (v.told = 'ended'
                         AND ({_MOVED} OR v.told_departed_at IS DISTINCT FROM v.departed_at)))),
        ('visit_ended', v.departed_at, 3,
         v.live AND v.departed_at IS NOT NULL AND v.told IS DISTINCT FROM 'ended'),
        ('visit_retracted', now(), 4, NOT v.live AND v.told IN ('started', 'ended'))
    ) AS k(kind, at, ord, due)
    WHERE k.due
), ins AS (
    INSERT INTO events (tenant_id, id, kind, occurred_at, device_id, user_id, subject, fence_id,
                        place_id, customer_id, visit_id, data)
    SELECT s.tenant_id, gen_random_uuid(), s.kind, s.at,
           s.device_id, s.agent_id, 'visit', s.fence_id, s.place_id, s.customer_id, s.id,
           jsonb_strip_nulls(jsonb_build_object(
               'arrived_at', {_iso("s.arrived_at")},
               'departed_at', {_iso("s.departed_at")},
               'duration_s', extract(epoch FROM s.departed_at - s.arrived_at),
               'sources', to_jsonb(s.sources),
               'confidence', s.confidence,
               'attributed_by', s.attributed_by,
               'outcome', s.outcome,
               'changed', CASE WHEN s.kind = 'visit_updated' THEN to_jsonb(ARRAY(
                   SELECT f FROM (VALUES
                       ('arrived_at', s.told_arrived_at IS DISTINCT FROM s.arrived_at),
                       ('departed_at', s.told = 'ended'
                                       AND s.told_departed_at IS DISTINCT FROM s.departed_at),
                       ('customer_id', s.told_customer_id IS DISTINCT FROM s.customer_id),
                       ('place_id', s.told_place_id IS DISTINCT FROM s.place_id),
                       ('outcome', s.told_outcome IS DISTINCT FROM s.outcome)
                   ) AS c(f, yes) WHERE c.yes)) END,
               'was', CASE WHEN s.kind = 'visit_updated' THEN jsonb_build_object(
                   'arrived_at', {_iso("s.told_arrived_at")},
                   'departed_at', {_iso("s.told_departed_at")},
                   'customer_id', s.told_customer_id, 'place_id', s.told_place_id,
                   'outcome', s.told_outcome) END))
    FROM said s
    ORDER BY s.id, s.ord
    RETURNING tenant_id, id, kind, occurred_at, fence_id, place_id, user_id, device_id,
              visit_id, customer_id, data
)""",  # noqa: S608 - this module's fragments, constants
    f"""
, live AS (
    {into_feed(_LIVE)}
), told AS (
    UPDATE visits t
    SET told = CASE WHEN NOT v.live THEN CASE WHEN v.told IS NULL THEN NULL ELSE 'retracted' END
                    WHEN v.departed_at IS NOT NULL OR v.told = 'ended' THEN 'ended'
                    ELSE 'started' END,
        told_arrived_at = v.arrived_at, told_departed_at = v.departed_at,
        told_customer_id = v.customer_id, told_place_id = v.place_id,
        told_outcome = v.outcome
    FROM v
    WHERE t.tenant_id = v.tenant_id AND t.id = v.id
      AND v.id IN (SELECT id FROM said)
)
SELECT count(*) FROM ins
""",  # noqa: S608 - the live domain's fragment
)


async def announce(db: asyncpg.Connection, tenant_id: uuid.UUID, visits: Collection[Any]) -> int:
    """Record the events that bring what was told of these visits up to date (in the
    caller's transaction); how many."""
    ids = sorted({uuid.UUID(str(v)) for v in visits if v is not None})
    if not ids:
        return 0
    return int(await db.fetchval(ANNOUNCE, tenant_id, ids) or 0)
