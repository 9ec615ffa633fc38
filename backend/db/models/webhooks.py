"""Webhooks out: subscriptions, the outbox of deliveries, and every attempt made."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    ARRAY,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, Timestamped
from backend.db.models._keys import TenantKeyed, tenant_fk

DELIVERY_STATUSES = ("pending", "delivered", "dead", "stale", "merged")


class WebhookSubscription(TenantKeyed, Timestamped, Base):
    """Where a tenant's (or one store app's) events go, which ones, and how to sign them."""

    __tablename__ = "webhook_subscriptions"
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    store_app_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    event_types: Mapped[list[str]] = mapped_column(ARRAY(Text))
    # Scope: an empty list means "any"; several non-empty lists must all match.
    place_ids: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(Uuid), default=list, server_default="{}"
    )
    fence_ids: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(Uuid), default=list, server_default="{}"
    )
    tags: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list, server_default="{}")
    secret: Mapped[str] = mapped_column(Text)
    # After a rotation the old secret also signs until `previous_secret_until`.
    previous_secret: Mapped[str | None] = mapped_column(Text)
    previous_secret_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    batch_size: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    # The circuit breaker: consecutive failures, and no attempts before `open_until`.
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    open_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    __table_args__ = (
        tenant_fk("store_app_id", "store_apps", ondelete="CASCADE"),
        CheckConstraint("batch_size BETWEEN 1 AND 100", name="batch_size"),
        Index(
            "ix_webhook_subscriptions_tenant_id_active",
            "tenant_id",
            postgresql_where=text("active"),
        ),
    )


class WebhookDelivery(TenantKeyed, Base):
    """One message to one subscription; its id is the `webhook-id` of every attempt.

    Written in the transaction that records the event (the transactional outbox). With
    batching, the first attempt folds later pending deliveries into the oldest one
    (`event_ids` grows, the others become `merged` into it).
    """

    __tablename__ = "webhook_deliveries"
    subscription_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    event_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid))
    event_kind: Mapped[str] = mapped_column(String(24))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    merged_into: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (
        tenant_fk("subscription_id", "webhook_subscriptions", ondelete="CASCADE"),
        CheckConstraint(f"status IN {DELIVERY_STATUSES}", name="status"),
        Index(
            "ix_webhook_deliveries_due",
            "subscription_id",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
        Index(
            "ix_webhook_deliveries_tenant_id_subscription_id_occurred_at",
            "tenant_id",
            "subscription_id",
            "occurred_at",
        ),
    )


class WebhookAttempt(Base):
    """The delivery log: one row per POST."""

    __tablename__ = "webhook_attempts"
    id: Mapped[int] = mapped_column(Integer, autoincrement=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("tenants.id", ondelete="CASCADE"))
    subscription_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    delivery_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        PrimaryKeyConstraint("tenant_id", "id"),  # distributable by tenant (migration 0036)
        tenant_fk("delivery_id", "webhook_deliveries", ondelete="CASCADE"),
        Index(
            "ix_webhook_attempts_tenant_id_subscription_id_attempted_at",
            "tenant_id",
            "subscription_id",
            "attempted_at",
        ),
    )
