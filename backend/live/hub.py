"""Each API process's one follower of the live feed, and the streams it feeds.

The hub numbers the feed with the other processes' hubs (one at a time: numbering.py), and
holds one connection that `LISTEN`s on `fieldsense_live` (each numbering notifies the
tenants it numbered). For each tenant that has a stream open in this
process, a follower reads the rows numbered after the last it read, in order, and offers each
to the tenant's subscribers, whose filters keep what they may see. A notification only wakes
the follower: the rows are read from the table, so a notification lost while the listening
connection was down costs nothing but time (the follower also reads every `poll_s`, and
after the listener reconnects). No state lives only here: a subscriber that falls too far
behind is dropped, and its client reconnects with `Last-Event-ID` and is served from the
table (`backfill`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import asyncpg
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.db.tenancy import driver_of
from backend.live.feed import CHANNEL
from backend.live.numbering import BATCH as NUMBER_BATCH
from backend.live.numbering import FOLLOW_S, NUMBER_EVERY_S, lead, number

log = logging.getLogger(__name__)

# Each row as the stream sends it, built by PostgreSQL once for every subscriber.
_BODY = """json_build_object(
    'seq', seq, 'kind', kind,
    'at', to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'agent_id', agent_id, 'device_id', device_id, 'data', data)::text"""
_READ = f"""SELECT seq, kind, agent_id, {_BODY} AS body
FROM live_events WHERE tenant_id = $1 AND seq > $2 AND seq <= $3
  AND kind = ANY($4::text[]) AND ($5::uuid[] IS NULL OR agent_id = ANY($5::uuid[]))
ORDER BY seq LIMIT $6"""  # noqa: S608 - a constant of this module
_FOLLOW = f"""SELECT seq, kind, agent_id, {_BODY} AS body
FROM live_events WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"""  # noqa: S608 - a constant of this module
_HEAD = "SELECT coalesce((SELECT seq FROM live_heads WHERE tenant_id = $1), 0)"
_OLDEST = "SELECT min(seq) FROM live_events WHERE tenant_id = $1 AND seq IS NOT NULL"

BATCH = 1000


@dataclass(frozen=True, slots=True)
class Entry:
    seq: int
    kind: str
    agent_id: uuid.UUID | None
    body: str  # the JSON the stream sends


@dataclass(eq=False, slots=True)
class Subscriber:
    """One open stream: the kinds it is sent, and whose (`agents`: None is everyone of the
    tenant). Entries wait in `pending` until the stream sends them; past `limit` the
    subscriber is dropped (`dropped`) rather than the hub waiting for a slow reader."""

    tenant_id: uuid.UUID
    kinds: frozenset[str]
    agents: frozenset[uuid.UUID] | None
    limit: int = 10_000
    pending: collections.deque[Entry] = field(default_factory=collections.deque)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    dropped: bool = False

    def wants(self, kind: str, agent_id: uuid.UUID | None) -> bool:
        return kind in self.kinds and (self.agents is None or agent_id in self.agents)

    def offer(self, e: Entry) -> None:
        if self.dropped or not self.wants(e.kind, e.agent_id):
            return
        if len(self.pending) >= self.limit:
            self.dropped = True
            self.pending.clear()
        else:
            self.pending.append(e)
        self.ready.set()


@dataclass(eq=False)
class _Follower:
    tenant_id: uuid.UUID
    cursor: int
    subscribers: set[Subscriber] = field(default_factory=set)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    idle_since: float = 0.0
    task: asyncio.Task[None] | None = None


class LiveHub:
    """`start()` at the process's start, `stop()` at its end; `join` and `leave` per stream."""

    def __init__(self, engine: AsyncEngine, poll_s: float = 2.0, linger_s: float = 30.0) -> None:
        self.engine = engine  # the system engine: the hub reads every tenant's feed
        self.poll_s = poll_s
        self.linger_s = linger_s
        self._followers: dict[uuid.UUID, _Follower] = {}
        self._joining = asyncio.Lock()
        self._listener: asyncio.Task[None] | None = None
        self._numberer: asyncio.Task[None] | None = None
        self.leading = False  # this process numbers the feed (numbering.py)

    async def start(self) -> None:
        self._listener = asyncio.create_task(self._listen(), name="live-listener")
        self._numberer = asyncio.create_task(self._number(), name="live-numberer")

    async def stop(self) -> None:
        tasks: list[asyncio.Task[None] | None] = [f.task for f in self._followers.values()]
        tasks += [self._listener, self._numberer]
        for t in tasks:
            if t is not None:
                t.cancel()
        for t in tasks:
            if t is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
        self._followers.clear()

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled driver connection of the system engine (queries name their tenant)."""
        async with self.engine.connect() as conn:
            yield await driver_of(conn)

    async def head(self, tenant_id: uuid.UUID) -> int:
        async with self.connection() as db:
            return int(await db.fetchval(_HEAD, tenant_id))

    async def join(self, sub: Subscriber) -> int:
        """Follow `sub`'s tenant (if not yet) and add `sub`: it is offered every entry
        numbered after the number returned."""
        async with self._joining:
            f = self._followers.get(sub.tenant_id)
            if f is None:
                f = _Follower(sub.tenant_id, await self.head(sub.tenant_id))
                f.task = asyncio.create_task(self._follow(f), name=f"live-{sub.tenant_id}")
                self._followers[sub.tenant_id] = f
            f.subscribers.add(sub)  # in the same step as reading its cursor: nothing between
            return f.cursor

    def leave(self, sub: Subscriber) -> None:
        f = self._followers.get(sub.tenant_id)
        if f is not None:
            f.subscribers.discard(sub)
            if not f.subscribers:
                f.idle_since = time.monotonic()

    async def _follow(self, f: _Follower) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(f.wake.wait(), self.poll_s)
            f.wake.clear()
            if not f.subscribers and time.monotonic() - f.idle_since > self.linger_s:
                async with self._joining:
                    if not f.subscribers:
                        del self._followers[f.tenant_id]
                        return
            try:
                async with self.connection() as db:
                    rows = await db.fetch(_FOLLOW, f.tenant_id, f.cursor, BATCH)
            except (OSError, SQLAlchemyError, asyncpg.PostgresError, asyncpg.InterfaceError):
                log.warning("live feed of %s unreadable; trying again", f.tenant_id)
                await asyncio.sleep(1.0)
                continue
            for r in rows:  # no await in here: a join sees the cursor and the offers agree
                e = Entry(r["seq"], r["kind"], r["agent_id"], r["body"])
                for s in f.subscribers:
                    s.offer(e)
                f.cursor = e.seq
            if len(rows) == BATCH:
                f.wake.set()

    async def _number(self) -> None:
        """Number the feed every `NUMBER_EVERY_S` while this process leads the numbering
        (numbering.py); ask for the lead every `FOLLOW_S` while another process has it."""
        while True:
            try:
                async with self.engine.connect() as conn:
                    try:
                        db = await driver_of(conn)
                        while not await lead(db):  # noqa: ASYNC110 - the lead is in PostgreSQL
                            await asyncio.sleep(FOLLOW_S)
                        self.leading = True
                        while True:
                            if await number(db) < NUMBER_BATCH:
                                await asyncio.sleep(NUMBER_EVERY_S)
                    finally:
                        self.leading = False
                        await conn.invalidate()  # the lead goes with it, never pooled
            except asyncio.CancelledError:
                raise
            except (OSError, SQLAlchemyError, asyncpg.PostgresError, asyncpg.InterfaceError):
                log.warning("could not number the live feed; trying again")
                await asyncio.sleep(1.0)

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        with contextlib.suppress(ValueError):
            f = self._followers.get(uuid.UUID(payload))
            if f is not None:
                f.wake.set()

    async def _listen(self) -> None:
        while True:
            try:
                await self._listen_once()
            except asyncio.CancelledError:
                raise
            except (OSError, SQLAlchemyError, asyncpg.PostgresError, asyncpg.InterfaceError):
                log.warning("live listener lost its connection; reconnecting")
            await asyncio.sleep(1.0)

    async def _listen_once(self) -> None:
        """Listen on one connection until it breaks."""
        async with self.engine.connect() as conn:
            db = await driver_of(conn)
            closed = asyncio.Event()
            db.add_termination_listener(lambda _c: closed.set())
            await db.add_listener(CHANNEL, self._notified)
            for f in list(self._followers.values()):  # what came while away
                f.wake.set()
            try:
                while not closed.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(closed.wait(), 30)
                    if not closed.is_set():
                        await db.fetchval("SELECT 1")  # a dead peer shows here
            finally:
                if not db.is_closed():
                    with contextlib.suppress(Exception):
                        await db.remove_listener(CHANNEL, self._notified)
                await conn.invalidate()  # never pooled again: it was listening


async def backfill(
    db: asyncpg.Connection,
    sub: Subscriber,
    after: int,
    until: int,
) -> AsyncIterator[Entry]:
    """The entries for `sub` numbered after `after` up to `until`, from the table."""
    agents = list(sub.agents) if sub.agents is not None else None
    while after < until:
        rows = await db.fetch(_READ, sub.tenant_id, after, until, list(sub.kinds), agents, BATCH)
        for r in rows:
            yield Entry(r["seq"], r["kind"], r["agent_id"], r["body"])
        if len(rows) < BATCH:
            return
        after = rows[-1]["seq"]


async def oldest(db: asyncpg.Connection, tenant_id: uuid.UUID) -> int | None:
    """The oldest number the feed still holds (retention forgets the rest)."""
    v = await db.fetchval(_OLDEST, tenant_id)
    return None if v is None else int(v)
