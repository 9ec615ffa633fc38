"""A server-sent events client as an app writes one: read a stream's events, remember the last
id, and reconnect with `Last-Event-ID` (the WHATWG HTML standard's event stream format)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True, slots=True)
class Event:
    id: str | None
    event: str
    data: str

    def json(self) -> Any:
        return json.loads(self.data)


async def events(resp: httpx.Response) -> AsyncIterator[Event]:
    """The events of an open stream, as they arrive (comments are skipped)."""
    fields: dict[str, list[str]] = {}
    async for line in resp.aiter_lines():
        if line == "":
            if "data" in fields or "event" in fields:
                yield Event(
                    id=fields["id"][-1] if "id" in fields else None,
                    event=fields.get("event", ["message"])[-1],
                    data="\n".join(fields.get("data", [])),
                )
            fields = {}
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        fields.setdefault(name, []).append(value[1:] if value.startswith(" ") else value)


def headers(token: str, last_event_id: str | None = None) -> dict[str, str]:
    h = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    if last_event_id is not None:
        h["Last-Event-ID"] = last_event_id
    return h
