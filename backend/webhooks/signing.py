"""Standard Webhooks: secrets, message bodies and the three signed headers.

`webhook-id` is the delivery's id (the same on every attempt, so receivers can drop
repeats), `webhook-timestamp` the attempt's time, and `webhook-signature` one `v1,<HMAC-
SHA256>` per secret in use (two during a rotation's overlap), computed by the
`standardwebhooks` library over `id.timestamp.body`.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 (the Standard Webhooks prefix, not a secret)


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def event_message(row: Mapping[str, Any]) -> dict[str, Any]:
    """One event as a Standard Webhooks message: `type`, `timestamp`, `data`."""
    data = row["data"]
    if isinstance(data, str):
        data = json.loads(data)
    return {
        "type": row["kind"],
        "timestamp": _iso(row["occurred_at"]),
        "data": {
            "event_id": str(row["id"]),
            "tenant_id": str(row["tenant_id"]),
            "device_id": _str(row["device_id"]),
            "user_id": _str(row["user_id"]),
            "fence_id": _str(row["fence_id"]),
            "place_id": _str(row["place_id"]),
            "customer_id": _str(row["customer_id"]),
            "visit_id": _str(row["visit_id"]),
            "replayed": bool(row["replayed"]),
            "recorded_at": _iso(row["recorded_at"]),
            "details": data,
        },
    }


def _str(value: Any) -> str | None:
    return str(value) if value is not None else None


def body(events: Sequence[Mapping[str, Any]], batched: bool, created_at: datetime) -> str:
    """The exact bytes posted: one event, or a `batch` of them (oldest first)."""
    messages = [event_message(e) for e in events]
    if batched:
        payload: dict[str, Any] = {
            "type": "batch",
            "timestamp": _iso(created_at),
            "data": {"events": messages},
        }
    else:
        payload = messages[0]
    return json.dumps(payload, separators=(",", ":"), sort_keys=True)


def headers(msg_id: str, payload: str, keys: Sequence[str], at: datetime) -> dict[str, str]:
    signatures = " ".join(Webhook(k).sign(msg_id, at, payload) for k in keys)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
        "content-type": "application/json",
        "user-agent": "fieldsense-webhooks/1",
    }


def signing_keys(
    secret: str, previous: str | None, previous_until: datetime | None, at: datetime
) -> list[str]:
    """The secrets that sign now: the current one, and the old one during its overlap."""
    keys = [secret]
    if previous and previous_until and at < previous_until:
        keys.append(previous)
    return keys
