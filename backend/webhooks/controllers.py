"""HTTP routes: webhook subscriptions, their delivery log, metrics, redelivery and replay."""

import uuid
from typing import Any

from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody

from backend.auth.security import Principal
from backend.common.deps import DbSession
from backend.common.pagination import Page
from backend.common.params import Cursor, Limit
from backend.common.strict import Instant
from backend.webhooks.schemas import (
    EVENT_TYPES,
    DeliveryDetail,
    DeliveryOut,
    DeliveryStatus,
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
from backend.webhooks.services import WebhookService


async def _service(db_session: DbSession, request: Request[Principal, Any, Any]) -> WebhookService:
    state = request.app.state
    return WebhookService(db_session, request.user, state.webhook_policy, state.webhook_events)


class WebhookController(Controller):
    path = "/webhooks"
    tags = ["webhooks"]
    dependencies = {"webhook_service": Provide(_service)}

    @get("/event-types", operation_id="ListWebhookEventTypes")
    async def event_types(self, request: Request[Principal, Any, Any]) -> list[str]:
        return list(EVENT_TYPES)

    @post(
        "/subscriptions",
        operation_id="CreateWebhookSubscription",
        description=(
            "Events of the chosen types in scope are POSTed to `url`, signed per the Standard "
            "Webhooks spec with the returned secret (shown once). Targets resolving to private, "
            "loopback or link-local addresses are refused unless the server allows them."
        ),
    )
    async def create_subscription(
        self,
        webhook_service: NamedDependency[WebhookService],
        data: JSONBody[SubscriptionCreate],
    ) -> SubscriptionCreated:
        return await webhook_service.create(data)

    @get("/subscriptions", operation_id="ListWebhookSubscriptions")
    async def list_subscriptions(
        self, webhook_service: NamedDependency[WebhookService]
    ) -> list[SubscriptionOut]:
        return await webhook_service.all()

    @get("/subscriptions/{subscription_id:uuid}", operation_id="GetWebhookSubscription")
    async def get_subscription(
        self,
        webhook_service: NamedDependency[WebhookService],
        subscription_id: FromPath[uuid.UUID],
    ) -> SubscriptionOut:
        return await webhook_service.get(subscription_id)

    @patch(
        "/subscriptions/{subscription_id:uuid}",
        operation_id="UpdateWebhookSubscription",
        description="`active: true` also closes the circuit breaker.",
    )
    async def update_subscription(
        self,
        webhook_service: NamedDependency[WebhookService],
        subscription_id: FromPath[uuid.UUID],
        data: JSONBody[SubscriptionUpdate],
    ) -> SubscriptionOut:
        return await webhook_service.update(subscription_id, data)

    @delete("/subscriptions/{subscription_id:uuid}", operation_id="DeleteWebhookSubscription")
    async def delete_subscription(
        self,
        webhook_service: NamedDependency[WebhookService],
        subscription_id: FromPath[uuid.UUID],
    ) -> None:
        await webhook_service.delete(subscription_id)

    @post(
        "/subscriptions/{subscription_id:uuid}/rotate-secret",
        operation_id="RotateWebhookSecret",
        description=(
            "A new secret; during `overlap_s` every message carries two signatures (new and "
            "old) so receivers can switch without losing a message."
        ),
    )
    async def rotate_secret(
        self,
        webhook_service: NamedDependency[WebhookService],
        subscription_id: FromPath[uuid.UUID],
        data: JSONBody[RotateSecret],
    ) -> SecretRotated:
        return await webhook_service.rotate(subscription_id, data)

    @get(
        "/subscriptions/{subscription_id:uuid}/deliveries",
        operation_id="ListWebhookDeliveries",
    )
    async def list_deliveries(
        self,
        webhook_service: NamedDependency[WebhookService],
        subscription_id: FromPath[uuid.UUID],
        status: FromQuery[DeliveryStatus | None] = None,
        since: FromQuery[Instant | None] = None,
        until: FromQuery[Instant | None] = None,
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> Page[DeliveryOut]:
        return await webhook_service.deliveries(
            subscription_id, status, since, until, cursor, limit
        )

    @get(
        "/subscriptions/{subscription_id:uuid}/deliveries/{delivery_id:uuid}",
        operation_id="GetWebhookDelivery",
    )
    async def get_delivery(
        self,
        webhook_service: NamedDependency[WebhookService],
        subscription_id: FromPath[uuid.UUID],
        delivery_id: FromPath[uuid.UUID],
    ) -> DeliveryDetail:
        return await webhook_service.delivery(subscription_id, delivery_id)

    @post(
        "/subscriptions/{subscription_id:uuid}/deliveries/{delivery_id:uuid}/redeliver",
        operation_id="RedeliverWebhook",
    )
    async def redeliver_one(
        self,
        webhook_service: NamedDependency[WebhookService],
        subscription_id: FromPath[uuid.UUID],
        delivery_id: FromPath[uuid.UUID],
    ) -> DeliveryOut:
        return await webhook_service.redeliver_one(subscription_id, delivery_id)

    @post(
        "/subscriptions/{subscription_id:uuid}/redeliver",
        operation_id="RedeliverWebhookRange",
        description="Deliveries of events in [since, until) with the given statuses go out again.",
    )
    async def redeliver_range(
        self,
        webhook_service: NamedDependency[WebhookService],
        subscription_id: FromPath[uuid.UUID],
        data: JSONBody[RedeliverRange],
    ) -> Requeued:
        return await webhook_service.redeliver(subscription_id, data)

    @post(
        "/subscriptions/{subscription_id:uuid}/replay",
        operation_id="ReplayWebhooks",
        description=(
            "Every event in the subscription's scope since a time goes out again: delivered, "
            "dead and stale ones under their own ids, events that had no delivery (before the "
            "subscription existed) under new ones."
        ),
    )
    async def replay(
        self,
        webhook_service: NamedDependency[WebhookService],
        subscription_id: FromPath[uuid.UUID],
        data: JSONBody[Replay],
    ) -> Requeued:
        return await webhook_service.replay(subscription_id, data)

    @get("/subscriptions/{subscription_id:uuid}/metrics", operation_id="GetWebhookMetrics")
    async def metrics(
        self,
        webhook_service: NamedDependency[WebhookService],
        subscription_id: FromPath[uuid.UUID],
    ) -> EndpointMetrics:
        return await webhook_service.metrics(subscription_id)
