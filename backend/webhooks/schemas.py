"""Webhook subscriptions, deliveries, attempts and per-endpoint metrics."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal, get_args

from pydantic import AnyUrl, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

EventType = Literal[
    "entered",
    "exited",
    "dwelled",
    "visit_started",
    "visit_ended",
    "visit_updated",
    "visit_retracted",
    "beacon_entered",
    "beacon_exited",
    "wifi_entered",
    "wifi_exited",
    "device_silent",
    "spoof_suspected",
]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)
DeliveryStatus = Literal["pending", "delivered", "dead", "stale", "merged"]
Requeueable = Literal["dead", "delivered", "stale", "pending"]
Circuit = Literal["closed", "open", "half_open"]
MAX_IDS = 500


def _url(value: str) -> str:
    AnyUrl(value)  # well-formed; the target policy decides the rest
    return value


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(
        max_length=2000, description="where to POST; https unless the server allows http"
    )
    event_types: list[EventType] = Field(min_length=1, max_length=len(EVENT_TYPES))
    place_ids: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=MAX_IDS,
        description="only events at these stores (places); empty: any (a store app: its stores)",
    )
    fence_ids: list[uuid.UUID] = Field(default_factory=list, max_length=MAX_IDS)
    tags: list[str] = Field(
        default_factory=list, max_length=50, description="only events at places with a tag here"
    )
    batch_size: int = Field(
        default=1, ge=1, le=100, description="up to this many events per POST (1: no batching)"
    )
    description: str | None = Field(default=None, max_length=500)
    store_app_id: uuid.UUID | None = Field(
        default=None, description="admins: make the subscription a store app's own"
    )

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return _url(value)

    @field_validator("event_types")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        return sorted(set(value))


class SubscriptionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(default=None, max_length=2000)
    event_types: list[EventType] | None = Field(
        default=None, min_length=1, max_length=len(EVENT_TYPES)
    )
    place_ids: list[uuid.UUID] | None = Field(default=None, max_length=MAX_IDS)
    fence_ids: list[uuid.UUID] | None = Field(default=None, max_length=MAX_IDS)
    tags: list[str] | None = Field(default=None, max_length=50)
    batch_size: int | None = Field(default=None, ge=1, le=100)
    description: str | None = Field(default=None, max_length=500)
    active: bool | None = None

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        return _url(value) if value is not None else None


class SubscriptionOut(BaseModel):
    id: uuid.UUID
    url: str
    description: str | None
    store_app_id: uuid.UUID | None
    event_types: list[str]
    place_ids: list[uuid.UUID]
    fence_ids: list[uuid.UUID]
    tags: list[str]
    batch_size: int
    active: bool
    circuit: Circuit
    consecutive_failures: int
    open_until: datetime | None
    previous_secret_valid_until: datetime | None
    created_at: datetime
    updated_at: datetime


class SubscriptionCreated(SubscriptionOut):
    secret: str = Field(description="shown once: verify `webhook-signature` with it")


class RotateSecret(BaseModel):
    model_config = ConfigDict(extra="forbid")
    overlap_s: int = Field(
        default=86_400,
        ge=0,
        le=7 * 86_400,
        description="how long the old secret keeps signing too (both signatures are sent)",
    )


class SecretRotated(BaseModel):
    secret: str
    previous_secret_valid_until: datetime | None


class DeliveryOut(BaseModel):
    id: uuid.UUID = Field(description="the `webhook-id` of every attempt")
    subscription_id: uuid.UUID
    event_ids: list[uuid.UUID]
    event_kind: str
    occurred_at: datetime
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    merged_into: uuid.UUID | None
    created_at: datetime


class AttemptOut(BaseModel):
    attempted_at: datetime
    status_code: int | None
    latency_ms: float
    error: str | None


class DeliveryDetail(DeliveryOut):
    log: list[AttemptOut]


class EndpointMetrics(BaseModel):
    subscription_id: uuid.UUID
    window_hours: int
    attempts: int
    succeeded: int
    failed: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    last_attempt_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    backlog: int = Field(description="deliveries waiting to be sent")
    oldest_pending_at: datetime | None
    delivered: int
    dead: int
    stale: int
    circuit: Circuit
    consecutive_failures: int


def _dead_only() -> list[Requeueable]:
    return ["dead"]


class RedeliverRange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    since: datetime
    until: datetime | None = None
    statuses: list[Requeueable] = Field(default_factory=_dead_only, min_length=1)

    @field_validator("until")
    @classmethod
    def _after(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        since = info.data.get("since")
        if value is not None and since is not None and value <= since:
            raise ValueError("until must be after since")
        return value


class Replay(BaseModel):
    model_config = ConfigDict(extra="forbid")
    since: datetime = Field(description="events that happened from this time on go out again")
    until: datetime | None = None

    @field_validator("until")
    @classmethod
    def _after(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        since = info.data.get("since")
        if value is not None and since is not None and value <= since:
            raise ValueError("until must be after since")
        return value


class Requeued(BaseModel):
    requeued: int = Field(description="existing deliveries sent again under their own ids")
    created: int = Field(description="new deliveries for events that had none")
