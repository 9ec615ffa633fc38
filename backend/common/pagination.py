"""Cursor pagination by time-ordered id."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime
from typing import Generic, TypeVar

from pydantic import BaseModel

from backend.errors import Invalid

T = TypeVar("T")
MAX_LIMIT = 500


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(last_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(last_id.bytes).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> uuid.UUID | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return uuid.UUID(bytes=raw)
    except (binascii.Error, ValueError) as exc:
        raise Invalid("malformed cursor", field="cursor") from exc


def check_limit(limit: int) -> int:
    if limit < 1 or limit > MAX_LIMIT:
        raise Invalid(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    return limit


def encode_time_cursor(at: datetime, last_id: uuid.UUID) -> str:
    raw = f"{at.isoformat()}|{last_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_time_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, last = raw.split("|")
        return datetime.fromisoformat(at), uuid.UUID(last)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise Invalid("malformed cursor", field="cursor") from exc
