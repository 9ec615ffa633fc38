"""Subscriptions and their delivery log: who may see and change what.

Admins manage every subscription of their tenant. A store app manages its own, and only
ever receives events at its stores: its subscriptions are scoped to its `store_ids` (an
empty `place_ids` means all of them; others are refused). Managers and agents have no
access: webhooks are an integration setting.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.security import Principal
from backend.common.egress import TargetPolicy, TargetRefused
from backend.common.pagination import Page, check_limit, decode_time_cursor, encode_time_cursor
from backend.db.driver import raw_connection
from backend.db.models import (
    Geofence,
    Place,
    StoreApp,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from backend.errors import Forbidden, Invalid, NotFound
from backend.webhooks import signing
from backend.webhooks.dispatcher import BREAK_AFTER
from backend.webhooks.outbox import REQUEUE, EventSource, replay_missing
from backend.webhooks.schemas import (
    AttemptOut,
    Circuit,
    DeliveryDetail,
    DeliveryOut,
    EndpointMetrics,
    RedeliverRange,
    Replay,
    Requeued,
    RotateSecret,
    SecretRotated,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionOut,
    SubscriptionUpdate,
)

METRICS_WINDOW_H = 24

METRICS = """
SELECT count(*) AS attempts,
       count(*) FILTER (WHERE error IS NULL) AS succeeded,
       count(*) FILTER (WHERE error IS NOT NULL) AS failed,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS p50,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95,
       max(attempted_at) AS last_attempt_at,
       (SELECT error FROM webhook_attempts a2
        WHERE a2.tenant_id = $1 AND a2.subscription_id = $2 AND a2.error IS NOT NULL
        ORDER BY attempted_at DESC, id DESC LIMIT 1) AS last_error,
       (SELECT max(attempted_at) FROM webhook_attempts a3
        WHERE a3.tenant_id = $1 AND a3.subscription_id = $2 AND a3.error IS NOT NULL)
           AS last_error_at
FROM webhook_attempts
WHERE tenant_id = $1 AND subscription_id = $2 AND attempted_at > $3
"""
BACKLOG = """
SELECT count(*) FILTER (WHERE status = 'pending') AS backlog,
       min(created_at) FILTER (WHERE status = 'pending') AS oldest_pending_at,
       count(*) FILTER (WHERE status = 'delivered') AS delivered,
       count(*) FILTER (WHERE status = 'dead') AS dead,
       count(*) FILTER (WHERE status = 'stale') AS stale
FROM webhook_deliveries WHERE tenant_id = $1 AND subscription_id = $2
"""


def circuit(row: WebhookSubscription, now: datetime) -> Circuit:
    if row.open_until is not None and row.open_until > now:
        return "open"
    return "half_open" if row.failures >= BREAK_AFTER else "closed"


class WebhookService:
    def __init__(
        self, session: AsyncSession, principal: Principal, policy: TargetPolicy, events: EventSource
    ) -> None:
        """`events`: where the events a replay sends are (the tracking domain's)."""
        if not (principal.is_admin or principal.is_store_app):
            raise Forbidden("webhooks are managed by admins and store apps")
        self.session = session
        self.p = principal
        self.policy = policy
        self.replay_missing = replay_missing(events)

    # --- scope -----------------------------------------------------------------------
    def _mine(self) -> Any:
        cond = WebhookSubscription.tenant_id == self.p.tenant_id
        if self.p.is_store_app:
            cond = cond & (WebhookSubscription.store_app_id == self.p.id)
        return cond

    async def _load(self, sub_id: uuid.UUID) -> WebhookSubscription:
        row = await self.session.scalar(
            select(WebhookSubscription).where(self._mine(), WebhookSubscription.id == sub_id)
        )
        if row is None:
            raise NotFound(f"webhook subscription {sub_id} not found", field="subscription_id")
        return row

    async def _check_target(self, url: str) -> None:
        try:
            await self.policy.check(url)
        except TargetRefused as exc:
            raise Invalid(str(exc), field="url") from exc

    async def _check_scope(
        self, place_ids: list[uuid.UUID], fence_ids: list[uuid.UUID], store_app: StoreApp | None
    ) -> list[uuid.UUID]:
        """The place scope to store: checked against the tenant and the store app's stores."""
        stores = set(store_app.store_ids or []) if store_app is not None else None
        if place_ids:
            found = set(
                await self.session.scalars(
                    select(Place.id).where(
                        Place.tenant_id == self.p.tenant_id, Place.id.in_(place_ids)
                    )
                )
            )
            missing = [str(p) for p in place_ids if p not in found]
            if missing:
                raise Invalid(f"unknown places: {', '.join(missing)}", field="place_ids")
            if stores is not None and not set(place_ids) <= stores:
                raise Invalid("a store app subscribes only to its own stores", field="place_ids")
        elif stores is not None:
            if not stores:
                raise Invalid("this store app has no stores to subscribe to", field="place_ids")
            place_ids = sorted(stores)
        if fence_ids:
            rows = (
                await self.session.execute(
                    select(Geofence.id, Geofence.place_id).where(
                        Geofence.tenant_id == self.p.tenant_id, Geofence.id.in_(fence_ids)
                    )
                )
            ).all()
            found_fences = {r.id: r.place_id for r in rows}
            missing = [str(f) for f in fence_ids if f not in found_fences]
            if missing:
                raise Invalid(f"unknown geofences: {', '.join(missing)}", field="fence_ids")
            if stores is not None and any(found_fences[f] not in stores for f in fence_ids):
                raise Invalid(
                    "a store app subscribes only to its stores' fences", field="fence_ids"
                )
        return list(place_ids)

    async def _store_app(self, store_app_id: uuid.UUID | None) -> StoreApp | None:
        if self.p.is_store_app:
            app_id = self.p.id
        elif store_app_id is None:
            return None
        else:
            app_id = store_app_id
        app = await self.session.scalar(
            select(StoreApp).where(StoreApp.tenant_id == self.p.tenant_id, StoreApp.id == app_id)
        )
        if app is None:
            raise Invalid(f"store app {app_id} not found", field="store_app_id")
        return app

    def _out(self, row: WebhookSubscription) -> SubscriptionOut:
        now = datetime.now(UTC)
        return SubscriptionOut(
            id=row.id,
            url=row.url,
            description=row.description,
            store_app_id=row.store_app_id,
            event_types=list(row.event_types),
            place_ids=list(row.place_ids or []),
            fence_ids=list(row.fence_ids or []),
            tags=list(row.tags or []),
            batch_size=row.batch_size,
            active=row.active,
            circuit=circuit(row, now),
            consecutive_failures=row.failures,
            open_until=row.open_until,
            previous_secret_valid_until=row.previous_secret_until
            if row.previous_secret_until and row.previous_secret_until > now
            else None,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    # --- subscriptions -----------------------------------------------------------------
    async def create(self, data: SubscriptionCreate) -> SubscriptionCreated:
        if self.p.is_store_app and data.store_app_id not in (None, self.p.id):
            raise Forbidden("a store app makes subscriptions for itself only")
        await self._check_target(data.url)
        app = await self._store_app(data.store_app_id)
        place_ids = await self._check_scope(data.place_ids, data.fence_ids, app)
        secret = signing.new_secret()
        row = WebhookSubscription(
            tenant_id=self.p.tenant_id,
            url=data.url,
            description=data.description,
            store_app_id=app.id if app else None,
            event_types=list(data.event_types),
            place_ids=place_ids,
            fence_ids=list(data.fence_ids),
            tags=list(data.tags),
            secret=secret,
            batch_size=data.batch_size,
            created_by=None if self.p.is_store_app else self.p.id,
        )
        self.session.add(row)
        await self.session.flush()
        await self.session.refresh(row)
        return SubscriptionCreated(**self._out(row).model_dump(), secret=secret)

    async def all(self) -> list[SubscriptionOut]:
        rows = await self.session.scalars(
            select(WebhookSubscription)
            .where(self._mine())
            .order_by(WebhookSubscription.created_at, WebhookSubscription.id)
        )
        return [self._out(r) for r in rows]

    async def get(self, sub_id: uuid.UUID) -> SubscriptionOut:
        return self._out(await self._load(sub_id))

    async def update(self, sub_id: uuid.UUID, data: SubscriptionUpdate) -> SubscriptionOut:
        row = await self._load(sub_id)
        changes = data.model_dump(exclude_unset=True)
        for key in ("url", "event_types", "place_ids", "fence_ids", "tags", "batch_size", "active"):
            if key in changes and changes[key] is None:
                raise Invalid(f"{key} must not be null", field=key)
        if "url" in changes:
            await self._check_target(changes["url"])
        if "place_ids" in changes or "fence_ids" in changes:
            app = await self._store_app(row.store_app_id) if row.store_app_id else None
            changes["place_ids"] = await self._check_scope(
                changes.get("place_ids", list(row.place_ids or [])),
                changes.get("fence_ids", list(row.fence_ids or [])),
                app,
            )
        if "event_types" in changes:
            changes["event_types"] = sorted(set(changes["event_types"]))
        if changes.get("active") is True:
            row.failures, row.open_until = 0, None
        for key, value in changes.items():
            setattr(row, key, value)
        row.updated_at = datetime.now(UTC)
        await self.session.flush()
        return self._out(row)

    async def delete(self, sub_id: uuid.UUID) -> None:
        await self.session.delete(await self._load(sub_id))
        await self.session.flush()

    async def rotate(self, sub_id: uuid.UUID, data: RotateSecret) -> SecretRotated:
        row = await self._load(sub_id)
        now = datetime.now(UTC)
        secret = signing.new_secret()
        if data.overlap_s > 0:
            row.previous_secret = row.secret
            row.previous_secret_until = now + timedelta(seconds=data.overlap_s)
        else:
            row.previous_secret, row.previous_secret_until = None, None
        row.secret = secret
        row.updated_at = now
        await self.session.flush()
        return SecretRotated(secret=secret, previous_secret_valid_until=row.previous_secret_until)

    # --- the delivery log ----------------------------------------------------------------
    async def deliveries(
        self,
        sub_id: uuid.UUID,
        status: str | None,
        since: datetime | None,
        until: datetime | None,
        cursor: str | None,
        limit: int,
    ) -> Page[DeliveryOut]:
        await self._load(sub_id)
        limit = check_limit(limit)
        d = WebhookDelivery
        stmt = select(d).where(d.tenant_id == self.p.tenant_id, d.subscription_id == sub_id)
        if status is not None:
            stmt = stmt.where(d.status == status)
        if since is not None:
            stmt = stmt.where(d.occurred_at >= since)
        if until is not None:
            stmt = stmt.where(d.occurred_at < until)
        after = decode_time_cursor(cursor)
        if after is not None:
            stmt = stmt.where(tuple_(d.occurred_at, d.id) > tuple_(after[0], after[1]))
        rows = list(await self.session.scalars(stmt.order_by(d.occurred_at, d.id).limit(limit + 1)))
        more = len(rows) > limit
        rows = rows[:limit]
        return Page[DeliveryOut](
            items=[DeliveryOut.model_validate(r, from_attributes=True) for r in rows],
            next_cursor=encode_time_cursor(rows[-1].occurred_at, rows[-1].id) if more else None,
        )

    async def delivery(self, sub_id: uuid.UUID, delivery_id: uuid.UUID) -> DeliveryDetail:
        await self._load(sub_id)
        row = await self.session.scalar(
            select(WebhookDelivery).where(
                WebhookDelivery.tenant_id == self.p.tenant_id,
                WebhookDelivery.subscription_id == sub_id,
                WebhookDelivery.id == delivery_id,
            )
        )
        if row is None:
            raise NotFound(f"delivery {delivery_id} not found", field="delivery_id")
        attempts = await self.session.scalars(
            select(WebhookAttempt)
            .where(
                WebhookAttempt.tenant_id == self.p.tenant_id,
                WebhookAttempt.delivery_id == delivery_id,
            )
            .order_by(WebhookAttempt.attempted_at, WebhookAttempt.id)
        )
        return DeliveryDetail(
            **DeliveryOut.model_validate(row, from_attributes=True).model_dump(),
            log=[AttemptOut.model_validate(a, from_attributes=True) for a in attempts],
        )

    async def redeliver_one(self, sub_id: uuid.UUID, delivery_id: uuid.UUID) -> DeliveryOut:
        """Send one delivery again now, under its own id, whatever its state (not merged)."""
        await self._load(sub_id)
        row = await self.session.scalar(
            select(WebhookDelivery).where(
                WebhookDelivery.tenant_id == self.p.tenant_id,
                WebhookDelivery.subscription_id == sub_id,
                WebhookDelivery.id == delivery_id,
            )
        )
        if row is None:
            raise NotFound(f"delivery {delivery_id} not found", field="delivery_id")
        if row.status == "merged":
            raise Invalid(
                f"this delivery went out inside {row.merged_into}; redeliver that one",
                field="delivery_id",
            )
        row.status, row.next_attempt_at, row.created_at = "pending", datetime.now(UTC), func.now()
        row.last_error = None
        await self.session.flush()
        await self.session.refresh(row)
        return DeliveryOut.model_validate(row, from_attributes=True)

    async def redeliver(self, sub_id: uuid.UUID, data: RedeliverRange) -> Requeued:
        await self._load(sub_id)
        db = await raw_connection(self.session)
        rows = await db.fetch(
            REQUEUE,
            self.p.tenant_id,
            sub_id,
            data.since,
            data.until or datetime.now(UTC) + timedelta(days=1),
            list(data.statuses),
        )
        return Requeued(requeued=len(rows), created=0)

    async def replay(self, sub_id: uuid.UUID, data: Replay) -> Requeued:
        """Every event in scope since a time goes out again (delivered ones too)."""
        sub = await self._load(sub_id)
        if not sub.active:
            raise Invalid("the subscription is paused; activate it first", field="subscription_id")
        db = await raw_connection(self.session)
        until = data.until or datetime.now(UTC) + timedelta(days=1)
        requeued = await db.fetch(REQUEUE, self.p.tenant_id, sub_id, data.since, until, None)
        created = await db.fetch(self.replay_missing, self.p.tenant_id, sub_id, data.since, until)
        return Requeued(requeued=len(requeued), created=len(created))

    async def metrics(self, sub_id: uuid.UUID) -> EndpointMetrics:
        row = await self._load(sub_id)
        db = await raw_connection(self.session)
        now = datetime.now(UTC)
        m = await db.fetchrow(
            METRICS, self.p.tenant_id, sub_id, now - timedelta(hours=METRICS_WINDOW_H)
        )
        b = await db.fetchrow(BACKLOG, self.p.tenant_id, sub_id)
        return EndpointMetrics(
            subscription_id=sub_id,
            window_hours=METRICS_WINDOW_H,
            attempts=m["attempts"],
            succeeded=m["succeeded"],
            failed=m["failed"],
            latency_p50_ms=m["p50"],
            latency_p95_ms=m["p95"],
            last_attempt_at=m["last_attempt_at"],
            last_error=m["last_error"],
            last_error_at=m["last_error_at"],
            backlog=b["backlog"],
            oldest_pending_at=b["oldest_pending_at"],
            delivered=b["delivered"],
            dead=b["dead"],
            stale=b["stale"],
            circuit=circuit(row, now),
            consecutive_failures=row.failures,
        )
