"""The transactional outbox: which subscriptions an event goes to, written with the event.

`with_deliveries(statement)` completes a statement whose CTEs end with `ins`, the events it
just inserted, as they came back (`tenant_id, id, kind, occurred_at, fence_id, place_id`),
with a data-modifying CTE that records their pending deliveries: the statement that records
events also records their deliveries, so both commit together or not at all. An event
recorded more than `LIVE_WINDOW` after it happened (an offline batch uploaded late) is not
pushed as a live alert: its delivery is written `stale`, and a replay sends it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from backend.places.queries import tagged

LIVE_WINDOW = "15 minutes"

# A subscription matches an event when it wants the event's kind and every non-empty scope
# list matches: the store (place), the fence, a tag of the event's place.
MATCHES = f"""s.active AND e.kind = ANY(s.event_types)
      AND (cardinality(s.place_ids) = 0 OR e.place_id = ANY(s.place_ids))
      AND (cardinality(s.fence_ids) = 0 OR e.fence_id = ANY(s.fence_ids))
      AND (cardinality(s.tags) = 0 OR {tagged("e.tenant_id", "e.place_id", "s.tags")})"""

_OUTBOX = f"""
, outbox AS (
    INSERT INTO webhook_deliveries (tenant_id, id, subscription_id, event_ids, event_kind,
                                    occurred_at, status, next_attempt_at)
    SELECT e.tenant_id, gen_random_uuid(), s.id, ARRAY[e.id], e.kind, e.occurred_at,
           CASE WHEN e.occurred_at < now() - interval '{LIVE_WINDOW}' THEN 'stale'
                ELSE 'pending' END,
           now()
    FROM ins e
    JOIN webhook_subscriptions s ON s.tenant_id = e.tenant_id
    WHERE {MATCHES}
)"""  # noqa: S608 - constants of this module


def with_deliveries(events_cte: str, then: str) -> str:
    """`events_cte` (a WITH ... whose last CTE, `ins`, inserted events), the outbox CTE that
    writes their deliveries, then the final statement `then`."""
    return events_cte + _OUTBOX + then


# Replay: every event of the subscription's scope since $3 (until $4) goes out again. Events
# that already have a delivery to it are re-queued under the same id (receivers drop
# repeats by `webhook-id`); the others get a new delivery.
REQUEUE = """
UPDATE webhook_deliveries d
SET status = 'pending', next_attempt_at = now(), created_at = now(), last_error = NULL
WHERE d.tenant_id = $1 AND d.subscription_id = $2 AND d.status <> 'merged'
  AND d.occurred_at >= $3 AND d.occurred_at < $4 AND ($5::text[] IS NULL OR d.status = ANY($5))
RETURNING d.id
"""


@dataclass(frozen=True, slots=True)
class EventSource:
    """Where the events to send are: SQL relations (every column of an event) that the
    tracking domain provides (`backend.tracking.queries.webhook_events`). Tracking records
    events and their deliveries in one statement (`with_deliveries`), so this domain does not
    import it; the app wires the two (backend/app.py)."""

    every: str  # every event, retracted ones too: a delivery carries what was recorded
    standing: str  # the events that stand (not retracted): a replay sends only those


def replay_missing(events: EventSource) -> str:
    """The statement that queues, for a replay, the events of the subscription's scope
    that no delivery to it carries yet."""
    return _REPLAY_MISSING.replace("{events}", events.standing)


_REPLAY_MISSING = f"""
INSERT INTO webhook_deliveries (tenant_id, id, subscription_id, event_ids, event_kind,
                                occurred_at, status, next_attempt_at)
SELECT e.tenant_id, gen_random_uuid(), s.id, ARRAY[e.id], e.kind, e.occurred_at, 'pending',
       now()
FROM webhook_subscriptions s
JOIN {{events}} e ON e.tenant_id = s.tenant_id AND e.occurred_at >= $3 AND e.occurred_at < $4
WHERE s.tenant_id = $1 AND s.id = $2 AND {MATCHES}
  AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d
                  WHERE d.tenant_id = e.tenant_id AND d.subscription_id = s.id
                    AND e.id = ANY(d.event_ids))
RETURNING id
"""  # noqa: S608 - constants of this module


def deliveries_of(deleted_events: str) -> str:
    """A data-modifying CTE body: delete the tenant's (`$1`) deliveries that carry any event
    whose id the CTE `deleted_events` returned (an erasure: nothing is sent of them)."""
    return (
        "DELETE FROM webhook_deliveries WHERE tenant_id = $1"  # noqa: S608 - a CTE name from code
        f" AND event_ids && ARRAY(SELECT id FROM {deleted_events}) RETURNING 1"
    )


async def forget_deliveries(db: asyncpg.Connection, tenant_id: uuid.UUID, before: datetime) -> int:
    """Delete the tenant's deliveries of events that happened before `before` (retention:
    backend/tracking/retention.py); returns how many."""
    status = await db.execute(
        "DELETE FROM webhook_deliveries WHERE tenant_id = $1 AND occurred_at < $2",
        tenant_id,
        before,
    )
    return int(status.rsplit(" ", 1)[-1]) if status and status[-1].isdigit() else 0
