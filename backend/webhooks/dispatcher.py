"""The delivery worker: claims due deliveries, posts them signed, retries, dead-letters.

Each run claims, in one short transaction, the due deliveries of every subscription whose
circuit is closed (or one delivery to probe a half-open one) with `FOR UPDATE SKIP LOCKED`,
and leases them by moving `next_attempt_at` past the time their POSTs may take: a worker
that dies mid-delivery loses nothing, the lease runs out and another run sends them again
under the same `webhook-id`. Each subscription's deliveries then go out in their own task,
one after the other with a timeout, and each outcome is committed on its own: a slow or
dead store holds up only its own queue, never ingest (which only writes outbox rows) nor
the other stores, and this process claims nothing more for it while its task runs.

Failures retry with exponential backoff and jitter (10 s doubling, at most an hour apart)
until `webhook_retry_hours` (25 h by default) after the delivery was queued, then the
delivery is `dead` (still redeliverable by hand). After `BREAK_AFTER` consecutive failures
the subscription's circuit opens for 30 s, doubling up to 10 minutes; when it has elapsed
one delivery probes the endpoint, and a success closes the circuit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from backend.common.egress import PinnedTransport, TargetPolicy, TargetRefused
from backend.db.driver import driver_transaction, raw_connection
from backend.webhooks import signing
from backend.webhooks.outbox import EventSource

log = logging.getLogger("fieldsense.webhooks")

BREAK_AFTER = 5  # consecutive failures that open a subscription's circuit
PER_RUN = 20  # deliveries claimed per subscription and run (unbatched)
BACKOFF_BASE_S = 10.0
BACKOFF_CAP_S = 3600.0
OPEN_BASE_S = 30.0
OPEN_CAP_S = 600.0

CLAIM = """
WITH subs AS (
    SELECT s.tenant_id, s.id, s.batch_size, s.failures >= $2 AS half_open
    FROM webhook_subscriptions s
    WHERE s.active AND (s.open_until IS NULL OR s.open_until <= $1)
      AND NOT (s.id = ANY($3::uuid[]))
), picked AS (
    SELECT d.tenant_id, d.id
    FROM subs
    CROSS JOIN LATERAL (
        SELECT d.tenant_id, d.id FROM webhook_deliveries d
        WHERE d.subscription_id = subs.id AND d.tenant_id = subs.tenant_id
          AND d.status = 'pending' AND d.next_attempt_at <= $1
        ORDER BY d.next_attempt_at, d.occurred_at, d.id
        LIMIT CASE WHEN subs.half_open THEN 1 WHEN subs.batch_size > 1 THEN subs.batch_size
                   ELSE $4 END
        FOR UPDATE OF d SKIP LOCKED
    ) d
)
UPDATE webhook_deliveries d SET next_attempt_at = $1 + $5 * interval '1 second'
FROM picked
WHERE d.tenant_id = picked.tenant_id AND d.id = picked.id
RETURNING d.tenant_id, d.id, d.subscription_id, d.event_ids, d.attempts, d.created_at,
          d.occurred_at
"""
SUBSCRIPTIONS = """
SELECT tenant_id, id, url, secret, previous_secret, previous_secret_until, batch_size
FROM webhook_subscriptions WHERE id = ANY($1::uuid[])
"""
_EVENTS = """
SELECT e.tenant_id, e.id, e.kind, e.occurred_at, e.recorded_at, e.device_id, e.user_id,
       e.fence_id, e.place_id, e.customer_id, e.visit_id, e.data, e.replayed
FROM unnest($1::uuid[], $2::uuid[]) AS k(tenant_id, id)
JOIN {events} e ON e.tenant_id = k.tenant_id AND e.id = k.id
"""
MERGE = """
WITH head AS (
    UPDATE webhook_deliveries SET event_ids = $3::uuid[]
    WHERE tenant_id = $1 AND id = $2
)
UPDATE webhook_deliveries SET status = 'merged', merged_into = $2
WHERE tenant_id = $1 AND id = ANY($4::uuid[])
"""
SUCCEEDED = """
WITH d AS (
    UPDATE webhook_deliveries
    SET status = 'delivered', delivered_at = $3, attempts = attempts + 1, last_attempt_at = $3,
        last_status_code = $4, last_error = NULL
    WHERE tenant_id = $1 AND id = $2
    RETURNING subscription_id
), s AS (
    UPDATE webhook_subscriptions SET failures = 0, open_until = NULL
    WHERE tenant_id = $1 AND id = (SELECT subscription_id FROM d)
)
INSERT INTO webhook_attempts (tenant_id, subscription_id, delivery_id, attempted_at,
                              status_code, latency_ms)
SELECT $1, subscription_id, $2, $3, $4, $5 FROM d
"""
FAILED = """
WITH d AS (
    UPDATE webhook_deliveries
    SET attempts = attempts + 1, last_attempt_at = $3, last_status_code = $4, last_error = $6,
        status = CASE WHEN created_at + $8 * interval '1 hour' <= $3 THEN 'dead'
                      ELSE 'pending' END,
        next_attempt_at = $3 + $7 * interval '1 second'
    WHERE tenant_id = $1 AND id = $2
    RETURNING subscription_id
), s AS (
    UPDATE webhook_subscriptions
    SET failures = failures + 1,
        open_until = CASE WHEN failures + 1 >= $9
            THEN $3 + least($11, $10 * power(2, failures + 1 - $9)) * interval '1 second'
            ELSE open_until END
    WHERE tenant_id = $1 AND id = (SELECT subscription_id FROM d)
    RETURNING open_until
), a AS (
    INSERT INTO webhook_attempts (tenant_id, subscription_id, delivery_id, attempted_at,
                                  status_code, latency_ms, error)
    SELECT $1, subscription_id, $2, $3, $4, $5, $6 FROM d
)
SELECT open_until FROM s
"""
RELEASE = """
UPDATE webhook_deliveries SET next_attempt_at = $3
WHERE tenant_id = $1 AND id = ANY($2::uuid[]) AND status = 'pending'
"""


def backoff_s(attempts: int, rng: random.Random) -> float:
    """Seconds before the next try after `attempts` failed ones: doubling, capped, ±20 %."""
    base = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** max(0, attempts - 1))
    return base * rng.uniform(0.8, 1.2)


@dataclass
class Message:
    """What one POST carries: a delivery (its id is the webhook-id) and its events."""

    tenant_id: uuid.UUID
    id: uuid.UUID
    attempts: int
    created_at: datetime
    events: list[dict[str, Any]]
    batched: bool
    also: list[uuid.UUID]  # deliveries merged into this one by this run


class Dispatcher:
    def __init__(
        self,
        engine: AsyncEngine,
        policy: TargetPolicy,
        timeout_s: float = 5.0,
        retry_hours: float = 25.0,
        seed: int | None = None,
        *,
        events: EventSource,
    ) -> None:
        """`events`: where the events the deliveries carry are (the tracking domain's)."""
        self.engine = engine
        self.events_sql = _EVENTS.replace("{events}", events.every)
        self.policy = policy
        self.timeout_s = timeout_s
        self.retry_hours = retry_hours
        self.rng = random.Random(seed)
        self.inflight: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self.timeout_s,
                follow_redirects=False,
                trust_env=False,
                transport=PinnedTransport(self.policy),
            )
        return self._client

    async def job(self, session: AsyncSession, now: datetime) -> int:
        """The job runner's entry point (its session is not used: claims commit at once)."""
        return await self.run(now)

    async def run(self, now: datetime | None = None, *, wait: bool = False) -> int:
        """Claim what is due and start sending it; the number of messages claimed.

        With `wait`, return only when every POST started here has its outcome recorded."""
        now = now or datetime.now(UTC)
        self.inflight = {k: t for k, t in self.inflight.items() if not t.done()}
        plan = await self._claim(now)
        started = []
        for sub, messages in plan:
            task = asyncio.create_task(self._send_all(sub, messages, now))
            self.inflight[sub["id"]] = task
            started.append(task)
        if wait and started:
            await asyncio.gather(*started)
        return sum(len(m) for _, m in plan)

    async def drain(self) -> None:
        """Wait for every POST in flight."""
        tasks = [t for t in self.inflight.values() if not t.done()]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        for task in self.inflight.values():
            task.cancel()
        for task in self.inflight.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _claim(self, now: datetime) -> list[tuple[dict[str, Any], list[Message]]]:
        lease_s = self.timeout_s * (PER_RUN + 1) + 30
        async with AsyncSession(self.engine) as session, session.begin():
            db = await raw_connection(session)
            rows = await db.fetch(CLAIM, now, BREAK_AFTER, list(self.inflight), PER_RUN, lease_s)
            if not rows:
                return []
            subs = {
                r["id"]: dict(r)
                for r in await db.fetch(SUBSCRIPTIONS, list({r["subscription_id"] for r in rows}))
            }
            pairs = [(r["tenant_id"], e) for r in rows for e in r["event_ids"]]
            events = {
                e["id"]: dict(e)
                for e in await db.fetch(
                    self.events_sql, [t for t, _ in pairs], [e for _, e in pairs]
                )
            }
            by_sub: dict[uuid.UUID, list[Any]] = defaultdict(list)
            for r in sorted(rows, key=lambda r: (r["occurred_at"], r["id"])):
                by_sub[r["subscription_id"]].append(r)
            plan = []
            for sub_id, claimed in by_sub.items():
                sub = subs[sub_id]
                batched = sub["batch_size"] > 1
                messages = []
                fresh = [r for r in claimed if r["attempts"] == 0 and len(r["event_ids"]) == 1]
                for r in claimed:
                    if batched and r in fresh[1:]:
                        continue  # folded into the first fresh one below
                    ids = list(r["event_ids"])
                    also: list[uuid.UUID] = []
                    if batched and fresh and r is fresh[0] and len(fresh) > 1:
                        ids = [e for f in fresh for e in f["event_ids"]]
                        also = [f["id"] for f in fresh[1:]]
                        await db.execute(MERGE, r["tenant_id"], r["id"], ids, also)
                    messages.append(
                        Message(
                            tenant_id=r["tenant_id"],
                            id=r["id"],
                            attempts=r["attempts"],
                            created_at=r["created_at"],
                            events=[events[e] for e in ids if e in events],
                            batched=batched,
                            also=also,
                        )
                    )
                plan.append((sub, messages))
            return plan

    async def _send_all(self, sub: dict[str, Any], messages: list[Message], now: datetime) -> None:
        refused: str | None = None
        try:  # resolved again now: a name re-pointed at an internal address is refused
            await self.policy.check(sub["url"])
        except TargetRefused as exc:
            refused = f"target refused: {exc}"
        for i, msg in enumerate(messages):
            try:
                open_until = await self._send(sub, msg, now, refused)
            except Exception:  # recording failed (database away): the lease brings it back
                log.exception("webhook %s: could not record the outcome", msg.id)
                return
            if open_until is not None:
                # The circuit opened: the rest waits for it instead of hammering the store.
                rest = [m.id for m in messages[i + 1 :]]
                if rest:
                    async with driver_transaction(self.engine) as db:
                        await db.execute(RELEASE, msg.tenant_id, rest, open_until)
                return

    async def _send(
        self, sub: dict[str, Any], msg: Message, now: datetime, refused: str | None
    ) -> datetime | None:
        """POST one message and record the outcome; the circuit's reopening time if it opened."""
        code: int | None = None
        error: str | None = refused
        started = time.perf_counter()
        if error is None and not msg.events:
            error = "its events no longer exist"
        elif error is None:
            payload = signing.body(msg.events, msg.batched, msg.created_at)
            at = datetime.now(UTC)  # signatures carry the real time receivers check against
            keys = signing.signing_keys(
                sub["secret"], sub["previous_secret"], sub["previous_secret_until"], at
            )
            try:
                resp = await self.client.post(
                    sub["url"],
                    content=payload.encode(),
                    headers=signing.headers(str(msg.id), payload, keys, at),
                )
                code = resp.status_code
                if not 200 <= code < 300:
                    error = f"HTTP {code}"
            except httpx.TimeoutException:
                error = f"timed out after {self.timeout_s:g} s"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        latency_ms = (time.perf_counter() - started) * 1000
        async with driver_transaction(self.engine) as db:
            if error is None:
                await db.execute(SUCCEEDED, msg.tenant_id, msg.id, now, code, latency_ms)
                return None
            delay = backoff_s(msg.attempts + 1, self.rng)
            result: datetime | None = await db.fetchval(
                FAILED,
                msg.tenant_id,
                msg.id,
                now,
                code,
                latency_ms,
                error[:500],
                delay,
                self.retry_hours,
                BREAK_AFTER,
                OPEN_BASE_S,
                OPEN_CAP_S,
            )
            if result is not None and result > now:
                return result
            return None
