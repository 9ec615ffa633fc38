"""Reads on hot standbys, within a lag bound (docs/operations.md, "Read replicas").

`FIELDSENSE_READ_DATABASE_URL` names one or more standbys (streaming replicas of the
primary). The read-heavy endpoints take their session from `ReadRouter.engine_for`: a standby
that is one (`pg_is_in_recovery()`), answers, and lags by no more than the bound, else the
primary. A caller who wrote in the last moments reads from the primary, so that they see their
own write.

**Lag, in time.** Every `POLL_S` the monitor notes the primary's WAL position with the time,
and asks each standby how far it has replayed. A standby's lag is the age of the newest noted
primary position it has replayed past: everything the primary committed before that moment is
on the standby. The age of the measurement is added when a read is routed, so a standby that
stopped answering ages out by itself. A lag over the bound never serves a read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

log = logging.getLogger("fieldsense.replicas")

POLL_S = 0.5
HISTORY_S = 300.0  # primary positions kept: a lag longer than this reads as this
PRIMARY_LSN = text("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")
STANDBY_STATE = text(
    "SELECT pg_is_in_recovery(), coalesce(pg_last_wal_replay_lsn() - '0/0'::pg_lsn, 0)"
)


def where(url: str) -> str:
    """A URL as logs may show it: host and port, no credentials."""
    u = make_url(url)
    return f"{u.host}:{u.port}"


@dataclass
class Standby:
    url: str
    engine: AsyncEngine  # the requests' (tenant-carrying) engine on the standby
    probe: AsyncEngine  # the monitor's own connection
    lag_s: float | None = None  # None: not known (not measured yet, or not answering)
    measured_at: float = 0.0
    problem: str | None = "not measured yet"

    def current_lag_s(self, now: float) -> float | None:
        if self.lag_s is None or self.problem is not None:
            return None
        return self.lag_s + (now - self.measured_at)


@dataclass
class ReadRouter:
    primary: AsyncEngine  # the requests' engine on the primary
    system: AsyncEngine  # the monitor reads the primary's position on this one
    standbys: list[Standby]
    max_lag_s: float
    # Callers who wrote, and when (monotonic): they read from the primary for a while.
    writers: dict[Any, float] = field(default_factory=dict)
    _history: deque[tuple[float, int]] = field(default_factory=deque)
    _task: asyncio.Task[None] | None = None

    @classmethod
    def of(
        cls,
        primary: AsyncEngine,
        system: AsyncEngine,
        urls: list[str],
        max_lag_s: float,
        make_engine: Any,
    ) -> ReadRouter:
        """`make_engine(url)`: the requests' engine for a standby (as the primary's is made)."""
        standbys = [
            Standby(url, make_engine(url), create_async_engine(url, pool_size=1, max_overflow=0))
            for url in urls
        ]
        return cls(primary, system, standbys, max_lag_s)

    # --- routing ------------------------------------------------------------------------
    def engine_for(self, caller: Any) -> tuple[AsyncEngine, str]:
        """The engine a read by `caller` goes to, and which it is (`replica`, `primary`)."""
        now = time.monotonic()
        wrote = self.writers.get(caller)
        if wrote is not None and now - wrote <= self.max_lag_s + POLL_S:
            return self.primary, "primary"
        best: tuple[float, Standby] | None = None
        for s in self.standbys:
            lag = s.current_lag_s(now)
            if lag is not None and lag <= self.max_lag_s and (best is None or lag < best[0]):
                best = (lag, s)
        if best is None:
            return self.primary, "primary"
        return best[1].engine, "replica"

    def failed(self, engine: AsyncEngine) -> None:
        """A standby's connection failed under a request: it serves nothing until the
        monitor finds it answering again."""
        for s in self.standbys:
            if s.engine is engine:
                s.lag_s, s.problem = None, "unavailable"
                log.warning("read replica %s failed a read: reading from the primary", where(s.url))

    def wrote(self, caller: Any) -> None:
        now = time.monotonic()
        self.writers[caller] = now
        if len(self.writers) > 10_000:  # forget the callers whose window has passed
            horizon = now - self.max_lag_s - POLL_S
            self.writers = {k: t for k, t in self.writers.items() if t >= horizon}

    def state(self) -> str | None:
        """For /ready: None without standbys; `ok` when one serves; else why none does."""
        if not self.standbys:
            return None
        now = time.monotonic()
        problems = []
        for s in self.standbys:
            lag = s.current_lag_s(now)
            if lag is not None and lag <= self.max_lag_s:
                return "ok"
            problems.append(s.problem or "lagging")
        for kind in ("not_a_standby", "unavailable"):
            if kind in problems:
                return kind
        return "lagging"

    # --- the monitor --------------------------------------------------------------------
    async def start(self) -> None:
        if self.standbys and self._task is None:
            await self.poll()
            for s in self.standbys:
                if s.problem:
                    log.warning("read replica %s does not serve: %s", where(s.url), s.problem)
            self._task = asyncio.create_task(self._run(), name="read-replica-monitor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for s in self.standbys:
            await s.engine.dispose()
            await s.probe.dispose()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(POLL_S)
            try:
                await self.poll()
            except Exception:  # the monitor outlives any one failure
                log.exception("read replica monitor")

    async def poll(self) -> None:
        """Note the primary's position, then measure each standby against the notes."""
        try:
            async with self.system.connect() as conn:
                position = int(await conn.scalar(PRIMARY_LSN) or 0)
        except Exception:
            log.warning("read replicas: the primary's position is unknown", exc_info=True)
            return
        now = time.monotonic()
        self._history.append((now, position))
        while self._history and self._history[0][0] < now - HISTORY_S:
            self._history.popleft()
        for s in self.standbys:
            await self._measure(s)

    async def _measure(self, s: Standby) -> None:
        try:
            async with asyncio.timeout(2):
                async with s.probe.connect() as conn:
                    standby, replayed = (await conn.execute(STANDBY_STATE)).one()
        except Exception as exc:
            if s.problem != "unavailable":
                log.warning("read replica %s is unavailable: %s", where(s.url), exc)
            s.lag_s, s.problem = None, "unavailable"
            return
        measured = time.monotonic()
        if not standby:
            if s.problem != "not_a_standby":
                log.warning("read replica %s is a primary, not a standby", where(s.url))
            s.lag_s, s.problem = None, "not_a_standby"
            return
        replayed = int(replayed)
        newest = None
        for at, position in reversed(self._history):
            if position <= replayed:
                newest = at
                break
        oldest = self._history[0][0] if self._history else measured
        s.lag_s = measured - (newest if newest is not None else oldest - HISTORY_S)
        s.lag_s = max(0.0, s.lag_s)
        s.measured_at = measured
        s.problem = None if s.lag_s <= self.max_lag_s else "lagging"


class ReadRouting:
    """ASGI middleware (inside authentication): a caller's write sends their next reads to
    the primary (`ReadRouter.wrote`, at its start and at its end); a read says which database
    served it (`X-Read-Source: replica | primary`)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        router: ReadRouter | None = scope["app"].state.get("reads")
        user = scope.get("user")
        writes = scope["method"] not in ("GET", "HEAD", "OPTIONS") and user is not None
        if router is None or not router.standbys:
            await self.app(scope, receive, send)
            return
        if writes:
            router.wrote(getattr(user, "id", None))

        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                source = (scope.get("state") or {}).get("read_source")
                if source:
                    message["headers"] = [
                        *message.get("headers", []),
                        (b"x-read-source", str(source).encode()),
                    ]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            if writes:
                router.wrote(getattr(user, "id", None))
