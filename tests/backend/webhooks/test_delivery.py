"""Webhooks out, end to end against real HTTP receivers on loopback and a real PostGIS."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from backend.common.egress import TargetPolicy
from backend.config import Settings
from backend.db.driver import driver_transaction
from backend.tracking.queries import webhook_events
from backend.tracking.records import INSERT_EVENTS
from backend.webhooks.dispatcher import BREAK_AFTER, Dispatcher
from simulators.receiver import Receiver
from tests.backend.world import Tenant, make_tenant, ok


@pytest_asyncio.fixture
async def t(client: AsyncTestClient[Litestar], engine: AsyncEngine) -> AsyncIterator[Tenant]:
    async with AsyncSession(engine, expire_on_commit=False) as session:
        tenant = await make_tenant(client, session)
    yield tenant
    # Subscriptions left active would be claimed by the next test's dispatcher runs.
    async with engine.begin() as conn:
        await conn.execute(
            text("DELETE FROM webhook_subscriptions WHERE tenant_id = :t"), {"t": tenant.id}
        )


def dispatcher(engine: AsyncEngine, settings: Settings) -> Dispatcher:
    policy = TargetPolicy.from_settings(False, settings.webhook_allow_networks)
    return Dispatcher(
        engine, policy, timeout_s=2.0, retry_hours=25.0, seed=7, events=webhook_events()
    )


async def subscribe(t: Tenant, receiver: Receiver, **extra: Any) -> dict[str, Any]:
    body = {"url": receiver.url, "event_types": ["entered", "exited", "visit_started"], **extra}
    sub = await t.post("admin", "/webhooks/subscriptions", body)
    receiver.secret = sub["secret"]
    return sub


async def device(t: Tenant) -> uuid.UUID:
    d = await t.device("agent")
    return uuid.UUID(d["id"])


async def emit(
    engine: AsyncEngine,
    t: Tenant,
    dev: uuid.UUID,
    n: int,
    *,
    kind: str = "entered",
    ago_s: float = 0.0,
    place_id: str | None = None,
) -> list[str]:
    """Record n events through the statement every event writer uses (events + outbox)."""
    now = time.time() - ago_s
    rows = [
        {
            "id": str(uuid.uuid4()),
            "kind": kind,
            "t": now + i * 0.001,
            "subject": f"s{i}",
            "place_id": place_id,
            "data": {"n": i},
            "by_t": now,
        }
        for i in range(n)
    ]
    async with driver_transaction(engine) as db:
        await db.fetch(INSERT_EVENTS, t.id, dev, t.users["agent"], False, json.dumps(rows))
    return [r["id"] for r in rows]


async def statuses(engine: AsyncEngine, sub_id: str) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT status, count(*) FROM webhook_deliveries "
                "WHERE subscription_id = :s GROUP BY status"
            ),
            {"s": uuid.UUID(sub_id)},
        )
        return {r[0]: r[1] for r in rows}


async def test_every_event_survives_failures_and_a_day_down(
    client: AsyncTestClient[Litestar], t: Tenant, engine: AsyncEngine, settings: Settings
) -> None:
    receiver = Receiver(fail_first=3).start()
    sub = await subscribe(t, receiver)
    dev = await device(t)
    events = await emit(engine, t, dev, 3)
    d = dispatcher(engine, settings)
    clock = datetime.now(UTC)
    try:
        await d.run(clock, wait=True)
        assert [h.status for h in receiver.hits] == [500, 500, 500]
        receiver.stop()  # then down for a day, probed as the backoff and the circuit allow
        assert receiver.refuses()
        events += await emit(engine, t, dev, 3)  # more events while it is down
        down_until = clock + timedelta(hours=24)
        while clock < down_until:
            clock += timedelta(minutes=5)
            await d.run(clock, wait=True)
        assert receiver.delivered_ids() == set()
        receiver.start()
        for _ in range(30):
            clock += timedelta(minutes=5)
            await d.run(clock, wait=True)
            if receiver.delivered_ids() >= set(events):
                break
    finally:
        receiver.stop()
        await d.close()

    assert receiver.delivered_ids() == set(events)
    assert all(h.verified for h in receiver.hits), "every attempt verifies with the secret"
    ids_per_event: dict[str, set[str]] = defaultdict(set)
    for h in receiver.hits:
        for e in h.event_ids():
            ids_per_event[e].add(h.webhook_id)
    assert all(len(ids) == 1 for ids in ids_per_event.values()), "one webhook-id per event"
    assert await statuses(engine, sub["id"]) == {"delivered": 6}

    # The log and the metrics tell the story: failed attempts, then successes, no backlog.
    h = t.h("admin")
    metrics = await ok(
        await client.get(f"/webhooks/subscriptions/{sub['id']}/metrics", headers=h), 200
    )
    assert metrics["backlog"] == 0 and metrics["delivered"] == 6 and metrics["dead"] == 0
    assert metrics["failed"] > 3 + BREAK_AFTER and metrics["succeeded"] == 6
    assert metrics["circuit"] == "closed" and metrics["last_error"]
    page = await ok(
        await client.get(f"/webhooks/subscriptions/{sub['id']}/deliveries", headers=h), 200
    )
    first = page["items"][0]
    detail = await ok(
        await client.get(
            f"/webhooks/subscriptions/{sub['id']}/deliveries/{first['id']}", headers=h
        ),
        200,
    )
    assert detail["attempts"] == len(detail["log"]) > 1
    assert detail["log"][-1]["error"] is None and detail["log"][0]["error"]


async def test_a_worker_killed_mid_delivery_loses_nothing(
    t: Tenant, engine: AsyncEngine, settings: Settings
) -> None:
    receiver = Receiver(delay_s=1.0).start()
    await subscribe(t, receiver)
    (event,) = await emit(engine, t, await device(t), 1)
    d = dispatcher(engine, settings)
    now = datetime.now(UTC)
    try:
        assert await d.run(now) == 1
        await asyncio.sleep(0.3)  # the POST has reached the store ...
        await d.close()  # ... and the worker dies before recording the outcome
        assert len(receiver.hits) <= 1
        d = dispatcher(engine, settings)
        assert await d.run(now + timedelta(seconds=5), wait=True) == 0, "still leased"
        receiver.delay_s = 0.0
        assert await d.run(now + timedelta(minutes=10), wait=True) == 1
    finally:
        receiver.stop()
        await d.close()
    await asyncio.sleep(0.8)  # the first, slow request finishes on the receiver's side
    assert receiver.delivered_ids() == {event}
    assert {h.webhook_id for h in receiver.hits} == {receiver.hits[-1].webhook_id}


async def test_a_dead_endpoint_does_not_delay_a_healthy_one(
    t: Tenant, engine: AsyncEngine, settings: Settings
) -> None:
    slow = Receiver(delay_s=5.0).start()  # answers after the 2 s timeout
    healthy = Receiver().start()
    await subscribe(t, slow)
    await subscribe(t, healthy)
    events = await emit(engine, t, await device(t), 5)
    d = dispatcher(engine, settings)
    try:
        started = time.time()
        assert await d.run(datetime.now(UTC)) == 10
        for _ in range(250):  # up to 5 s
            if healthy.delivered_ids() == set(events):
                break
            await asyncio.sleep(0.02)
        took = time.time() - started
        assert healthy.delivered_ids() == set(events)
        assert took < 1.5, f"the healthy store waited {took:.1f} s"
        # While the slow store's POST hangs, this process claims nothing more for it.
        assert await d.run(datetime.now(UTC)) == 0
    finally:
        await d.close()
        slow.stop()
        healthy.stop()


async def test_the_circuit_opens_after_consecutive_failures(
    client: AsyncTestClient[Litestar], t: Tenant, engine: AsyncEngine, settings: Settings
) -> None:
    receiver = Receiver(fail_first=1000).start()
    sub = await subscribe(t, receiver)
    await emit(engine, t, await device(t), BREAK_AFTER + 3)
    d = dispatcher(engine, settings)
    now = datetime.now(UTC)
    try:
        await d.run(now, wait=True)
        assert len(receiver.hits) == BREAK_AFTER, "the rest waits for the circuit"
        await d.run(now + timedelta(seconds=1), wait=True)
        assert len(receiver.hits) == BREAK_AFTER, "open: nothing is sent"
        got = await ok(
            await client.get(f"/webhooks/subscriptions/{sub['id']}", headers=t.h("admin")), 200
        )
        assert got["circuit"] == "open" and got["consecutive_failures"] == BREAK_AFTER
        await d.run(now + timedelta(minutes=2), wait=True)
        assert len(receiver.hits) == BREAK_AFTER + 1, "half open: one probe"
    finally:
        receiver.stop()
        await d.close()


async def test_batching_sends_several_events_in_one_post(
    t: Tenant, engine: AsyncEngine, settings: Settings
) -> None:
    receiver = Receiver().start()
    sub = await subscribe(t, receiver, batch_size=10)
    events = await emit(engine, t, await device(t), 4)
    d = dispatcher(engine, settings)
    try:
        assert await d.run(datetime.now(UTC), wait=True) == 1
    finally:
        receiver.stop()
        await d.close()
    (hit,) = receiver.hits
    assert hit.verified and hit.payload["type"] == "batch"
    assert hit.event_ids() == events, "oldest first"
    assert await statuses(engine, sub["id"]) == {"delivered": 1, "merged": 3}


async def test_secret_rotation_signs_with_both_during_the_overlap(
    client: AsyncTestClient[Litestar], t: Tenant, engine: AsyncEngine, settings: Settings
) -> None:
    receiver = Receiver().start()
    sub = await subscribe(t, receiver)
    old = receiver.secret
    rotated = await t.post(
        "admin", f"/webhooks/subscriptions/{sub['id']}/rotate-secret", {"overlap_s": 3600}
    )
    await emit(engine, t, await device(t), 1)
    d = dispatcher(engine, settings)
    try:
        await d.run(datetime.now(UTC), wait=True)
    finally:
        receiver.stop()
        await d.close()
    (hit,) = receiver.hits
    assert hit.verified, "a receiver still on the old secret verifies"
    assert len(hit.headers["webhook-signature"].split(" ")) == 2
    from standardwebhooks.webhooks import Webhook

    Webhook(rotated["secret"]).verify(hit.body, hit.headers)  # and one on the new
    assert old != rotated["secret"] and rotated["previous_secret_valid_until"]


async def test_late_events_are_not_pushed_live_but_replay(
    client: AsyncTestClient[Litestar], t: Tenant, engine: AsyncEngine, settings: Settings
) -> None:
    receiver = Receiver().start()
    sub = await subscribe(t, receiver)
    dev = await device(t)
    late = await emit(engine, t, dev, 2, ago_s=20 * 60)  # an offline batch, 20 min late
    live = await emit(engine, t, dev, 1)
    d = dispatcher(engine, settings)
    try:
        await d.run(datetime.now(UTC), wait=True)
        assert receiver.delivered_ids() == set(live)
        assert await statuses(engine, sub["id"]) == {"delivered": 1, "stale": 2}
        since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
        replay = await ok(
            await client.post(
                f"/webhooks/subscriptions/{sub['id']}/replay",
                json={"since": since},
                headers=t.h("admin"),
            ),
            201,
        )
        assert replay == {"requeued": 3, "created": 0}
        await d.run(datetime.now(UTC) + timedelta(seconds=1), wait=True)
    finally:
        receiver.stop()
        await d.close()
    assert receiver.delivered_ids() == set(late) | set(live)
    ids = defaultdict(set)
    for h in receiver.hits:
        ids[h.event_ids()[0]].add(h.webhook_id)
    assert len(ids[live[0]]) == 1, "a replay keeps the webhook-id"


async def test_replay_covers_events_from_before_the_subscription(
    client: AsyncTestClient[Litestar], t: Tenant, engine: AsyncEngine, settings: Settings
) -> None:
    earlier = await emit(engine, t, await device(t), 2)
    receiver = Receiver().start()
    sub = await subscribe(t, receiver)
    since = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    got = await ok(
        await client.post(
            f"/webhooks/subscriptions/{sub['id']}/replay",
            json={"since": since},
            headers=t.h("admin"),
        ),
        201,
    )
    assert got == {"requeued": 0, "created": 2}
    d = dispatcher(engine, settings)
    try:
        await d.run(datetime.now(UTC) + timedelta(seconds=1), wait=True)
    finally:
        receiver.stop()
        await d.close()
    assert receiver.delivered_ids() == set(earlier)


async def test_redeliver_one_and_a_range_of_dead_ones(
    client: AsyncTestClient[Litestar], t: Tenant, engine: AsyncEngine, settings: Settings
) -> None:
    receiver = Receiver().start()
    sub = await subscribe(t, receiver)
    events = await emit(engine, t, await device(t), 2)
    async with engine.begin() as conn:  # as if they had failed for 25 hours
        await conn.execute(
            text("UPDATE webhook_deliveries SET status = 'dead' WHERE subscription_id = :s"),
            {"s": uuid.UUID(sub["id"])},
        )
    h = t.h("admin")
    page = await ok(
        await client.get(
            f"/webhooks/subscriptions/{sub['id']}/deliveries", params={"status": "dead"}, headers=h
        ),
        200,
    )
    one = page["items"][0]["id"]
    again = await ok(
        await client.post(
            f"/webhooks/subscriptions/{sub['id']}/deliveries/{one}/redeliver", headers=h
        ),
        201,
    )
    assert again["status"] == "pending" and again["id"] == one
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    got = await ok(
        await client.post(
            f"/webhooks/subscriptions/{sub['id']}/redeliver", json={"since": since}, headers=h
        ),
        201,
    )
    assert got == {"requeued": 1, "created": 0}
    d = dispatcher(engine, settings)
    try:
        await d.run(datetime.now(UTC) + timedelta(seconds=1), wait=True)
    finally:
        receiver.stop()
        await d.close()
    assert receiver.delivered_ids() == set(events)
    assert one in {x.webhook_id for x in receiver.hits}


async def test_a_target_refused_at_send_time_is_not_contacted(
    t: Tenant, engine: AsyncEngine
) -> None:
    """Allowed when saved, refused when sent (as if its name now pointed inside)."""
    receiver = Receiver().start()
    sub = await subscribe(t, receiver)
    await emit(engine, t, await device(t), 1)
    strict = Dispatcher(
        engine, TargetPolicy.from_settings(False, []), timeout_s=2.0, events=webhook_events()
    )
    try:
        await strict.run(datetime.now(UTC), wait=True)
    finally:
        receiver.stop()
        await strict.close()
    assert receiver.hits == []
    async with engine.connect() as conn:
        error = await conn.scalar(
            text("SELECT last_error FROM webhook_deliveries WHERE subscription_id = :s"),
            {"s": uuid.UUID(sub["id"])},
        )
    assert error is not None and error.startswith("target refused")
