"""`GET /live/team/{org_unit_id}` and `GET /live/me`: server-sent events from the live feed.

A manager's stream carries their subtree's agents' positions, visits, plan changes and notes;
an admin's any unit's; an agent's app's stream (a person's token or the device's own) carries
that agent's plan changes, coaching notes and visits. Each event's `id` is its number in the
tenant's feed: a client that reconnects with `Last-Event-ID` gets every event after it, in
order, from the table, then the live ones; if the feed no longer holds some of them (kept a
day), a `reset` event says so first. The handler holds no database connection while it
streams (only while it reads a reconnect's backlog).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import re
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.datastructures import State
from litestar.params import FromPath, HeaderParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage

from backend.auth.security import Principal
from backend.common.deps import DbEngine
from backend.db.models import LIVE_KINDS
from backend.errors import Forbidden, Invalid, TooManyRequests
from backend.live.audience import team_agents
from backend.live.hub import Entry, LiveHub, Subscriber, backfill, oldest

KEEPALIVE_S = 15.0
RETRY_MS = 2000  # how long a browser's EventSource waits before it reconnects
AGENT_KINDS = frozenset(
    {
        "plan_changed",
        "coaching_note",
        "visit_started",
        "visit_ended",
        "visit_updated",
        "visit_retracted",
    }
)
TEAM_KINDS = frozenset(LIVE_KINDS)
_LAST_ID = re.compile(r"[0-9]{1,18}")

LastEventId = Annotated[
    str | None,
    HeaderParameter(
        name="Last-Event-ID",
        required=False,
        description="the id of the last event received: the stream resumes after it",
    ),
]


class StreamSlots:
    """Streams open per caller in this process: one more than `per_caller` is a 429."""

    def __init__(self, per_caller: int) -> None:
        self.per_caller = per_caller
        self.open: collections.Counter[uuid.UUID] = collections.Counter()

    @contextlib.contextmanager
    def take(self, caller: uuid.UUID) -> Iterator[None]:
        if self.open[caller] >= self.per_caller:
            raise TooManyRequests(
                f"{self.per_caller} live streams are open for this caller already",
                retry_after_s=KEEPALIVE_S,
            )
        self.open[caller] += 1
        try:
            yield
        finally:
            self.open[caller] -= 1
            if self.open[caller] <= 0:
                del self.open[caller]


def _last_event_id(raw: str | None) -> int | None:
    if raw is None or raw.strip() == "":
        return None
    if not _LAST_ID.fullmatch(raw.strip()):
        raise Invalid("Last-Event-ID is an event's id: a whole number", field="Last-Event-ID")
    return int(raw.strip())


def _message(e: Entry) -> ServerSentEventMessage:
    return ServerSentEventMessage(data=e.body, event=e.kind, id=e.seq)


def _reset(reason: str, **more: Any) -> ServerSentEventMessage:
    return ServerSentEventMessage(data=json.dumps({"reason": reason, **more}), event="reset")


async def _events(
    hub: LiveHub,
    sub: Subscriber,
    joined_at: int,
    after: int | None,
    release: Callable[[], None],
    max_s: float,
) -> AsyncIterator[ServerSentEventMessage]:
    """The stream: the backlog after `after` (a reconnect's) from the table, then what the
    hub offers, each event once and in order; ends when the hub dropped a slow reader, or
    after `max_s` (the client reconnects with its last id)."""
    ends = time.monotonic() + max_s
    try:
        yield ServerSentEventMessage(data=None, comment="live", retry=RETRY_MS)
        last = joined_at
        if after is not None and after > joined_at and after > await hub.head(sub.tenant_id):
            yield _reset("Last-Event-ID is not an event of this feed", head=joined_at)
        elif after is not None and after > joined_at:
            last = after  # the hub has not read so far yet: skip what the client has
        elif after is not None and after < joined_at:
            async with hub.connection() as db:
                first = await oldest(db, sub.tenant_id)
                if first is None or first > after + 1:
                    yield _reset("the feed no longer holds every event after Last-Event-ID")
                async for e in backfill(db, sub, after, joined_at):
                    yield _message(e)
        while time.monotonic() < ends:
            while not sub.pending and not sub.dropped:
                left = ends - time.monotonic()
                if left <= 0:
                    return  # the stream's time is up: the client reconnects
                sub.ready.clear()
                try:
                    await asyncio.wait_for(sub.ready.wait(), min(KEEPALIVE_S, left))
                except TimeoutError:
                    yield ServerSentEventMessage(data=None, comment="keepalive")
            if sub.dropped:
                return  # too far behind: the client reconnects with its last id
            while sub.pending:
                e = sub.pending.popleft()
                if e.seq > last:
                    last = e.seq
                    yield _message(e)
    finally:
        release()


async def _open(
    state: State,
    p: Principal,
    kinds: frozenset[str],
    agents: frozenset[uuid.UUID] | None,
    last_event_id: str | None,
) -> ServerSentEvent:
    after = _last_event_id(last_event_id)
    hub: LiveHub = state["live"]
    slots: StreamSlots = state["live_slots"]
    max_s: float = state["settings"].live_stream_max_s
    done = contextlib.ExitStack()
    done.enter_context(slots.take(p.device_id or p.id))
    sub = Subscriber(p.tenant_id, kinds, agents)
    try:
        joined_at = await hub.join(sub)
    except BaseException:
        done.close()
        raise

    def release() -> None:  # once: the stream's end, or its generator collected unstarted
        hub.leave(sub)
        done.close()

    stream = _events(hub, sub, joined_at, after, release, max_s)
    # A client gone before the first byte: the generator never runs its `finally`.
    weakref.finalize(stream, release)
    return ServerSentEvent(stream, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


class LiveController(Controller):
    path = "/live"
    tags = ["live"]

    @get(
        "/team/{org_unit_id:uuid}",
        operation_id="LiveTeam",
        media_type="text/event-stream",
        description=(
            "Server-sent events for a manager (their subtree) or an admin: the unit's agents' "
            "positions, visits started, ended, updated and retracted, plan changes and "
            "coaching notes (docs/live.md). Each event's `id` is its number in the tenant's "
            "feed; reconnect with `Last-Event-ID` to resume with nothing lost."
        ),
    )
    async def team(
        self,
        request: Request[Principal, Any, Any],
        db_engine: DbEngine,
        org_unit_id: FromPath[uuid.UUID],
        last_event_id: LastEventId = None,
    ) -> ServerSentEvent:
        p = request.user
        if not (p.is_manager or p.is_admin) or p.is_store_app:
            raise Forbidden("a team's live stream is for its managers; agents follow /live/me")
        _last_event_id(last_event_id)
        agents = await team_agents(db_engine, p, org_unit_id)
        return await _open(request.app.state, p, TEAM_KINDS, agents, last_event_id)

    @get(
        "/me",
        operation_id="LiveMe",
        media_type="text/event-stream",
        description=(
            "Server-sent events for an agent's app (the agent's token or the device's own): "
            "the agent's plan changes (a re-plan, an urgent visit added), new coaching notes "
            "and visits. Reconnect with `Last-Event-ID` to resume with nothing lost."
        ),
    )
    async def me(
        self, request: Request[Principal, Any, Any], last_event_id: LastEventId = None
    ) -> ServerSentEvent:
        p = request.user
        if not p.is_agent:
            raise Forbidden("/live/me is an agent's own stream; managers follow /live/team")
        return await _open(request.app.state, p, AGENT_KINDS, frozenset({p.id}), last_event_id)
