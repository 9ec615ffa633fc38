"""One job runner for all periodic work, firing each job once across API processes.

Every API process runs an APScheduler that ticks each job at half its interval. A tick
claims the firing in the shared `job_state` table: one UPDATE moves `next_run_at` on by
the interval only if it was due, so of all processes ticking, exactly one wins each firing.
The winner then runs the job in its own transaction holding a PostgreSQL advisory lock
keyed by the job's name (a slow run never overlaps the next one) and records the outcome
(last run, result, error, duration, which process) in the same table, which the admin
endpoint lists.

Jobs marked `shared` (webhook delivery) run in every process at every tick: their work is
claimed row by row (`FOR UPDATE SKIP LOCKED`), so more processes mean more throughput.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

log = logging.getLogger("fieldsense.jobs")
Job = Callable[[AsyncSession, datetime], Awaitable[int]]
RUNNER = f"{socket.gethostname()}:{os.getpid()}"

REGISTER = text(
    """
INSERT INTO job_state (name, every_s, next_run_at) VALUES (:name, :every, :now)
ON CONFLICT (name) DO UPDATE SET every_s = EXCLUDED.every_s
"""
)
CLAIM = text(
    """
UPDATE job_state
SET next_run_at = CAST(:now AS timestamptz) + make_interval(secs => every_s),
    last_started_at = :now, last_runner = :runner
WHERE name = :name AND next_run_at <= CAST(:now AS timestamptz)
RETURNING name
"""
)
RECORD = text(
    """
UPDATE job_state SET last_finished_at = :finished, last_result = :result,
                     last_duration_ms = :ms, runs = runs + 1,
                     last_error = coalesce(CAST(:error AS text), last_error),
                     last_error_at = CASE WHEN CAST(:error AS text) IS NULL THEN last_error_at
                                          ELSE CAST(:finished AS timestamptz) END,
                     last_started_at = coalesce(last_started_at, :started),
                     last_runner = coalesce(last_runner, :runner)
WHERE name = :name
"""
)


def lock_key(name: str) -> int:
    """A stable 32-bit key per job name (advisory locks take a bigint)."""
    return zlib.crc32(name.encode())


@dataclass
class JobStatus:
    """What this process knows of a job (the shared record is `job_state`)."""

    name: str
    every_s: float
    shared: bool = False
    last_run: datetime | None = None
    last_result: int | None = None
    last_error: str | None = None
    runs: int = 0


@dataclass
class JobRunner:
    engine: AsyncEngine
    scheduler: AsyncIOScheduler = field(default_factory=lambda: AsyncIOScheduler(timezone=UTC))
    jobs: dict[str, tuple[Job, JobStatus]] = field(default_factory=dict)
    intervals: dict[str, float] = field(default_factory=dict)
    _registered: bool = False

    def add(self, name: str, job: Job, every_s: float, *, shared: bool = False) -> None:
        every_s = self.intervals.get(name, every_s)
        self.jobs[name] = (job, JobStatus(name, every_s, shared))
        self.scheduler.add_job(
            self.tick,
            "interval",
            seconds=every_s if shared else max(0.5, every_s / 2),
            args=[name],
            id=name,
            coalesce=True,
            max_instances=1,
            # Tick at start-up too: a job that fell due while no process ran goes now. However
            # late the scheduler starts: with APScheduler's default grace (1 s) a slow start-up
            # skipped that tick, and a twelve-hour job then waited six hours for the next.
            next_run_time=datetime.now(UTC),
            misfire_grace_time=None,
        )

    async def register(self) -> None:
        """Make sure every job has its row in `job_state` (first start: due now)."""
        async with self.engine.begin() as conn:
            for name, (_, status) in self.jobs.items():
                await conn.execute(
                    REGISTER, {"name": name, "every": status.every_s, "now": datetime.now(UTC)}
                )
        self._registered = True

    async def tick(self, name: str) -> int | None:
        """A scheduler firing: run the job if this process wins the firing."""
        if not self._registered:
            await self.register()
        _, status = self.jobs[name]
        if status.shared:
            return await self.run(name)
        now = datetime.now(UTC)
        async with self.engine.begin() as conn:
            won = await conn.scalar(CLAIM, {"name": name, "now": now, "runner": RUNNER})
        if won is None:
            return None
        return await self.run(name, now)

    async def run(self, name: str, now: datetime | None = None) -> int | None:
        """Run one job now, unless a run of it is in progress anywhere; None when skipped.

        Tests and operators call this directly (with a chosen `now`); the scheduler calls it
        through `tick`, which first claims the firing."""
        if not self._registered:
            await self.register()
        job, status = self.jobs[name]
        now = now or datetime.now(UTC)
        started = time.perf_counter()
        error: str | None = None
        result: int | None = None
        try:
            async with (
                AsyncSession(self.engine, expire_on_commit=False) as session,
                session.begin(),
            ):
                if not status.shared:
                    got = await session.scalar(
                        select(func.pg_try_advisory_xact_lock(lock_key(name)))
                    )
                    if not got:
                        return None
                result = await job(session, now)
        except Exception as exc:  # a failing job is logged and retried at its next firing
            error = f"{type(exc).__name__}: {exc}"
            log.exception("job %s failed", name)
        ms = (time.perf_counter() - started) * 1000
        status.last_run, status.last_result, status.last_error = now, result, error
        status.runs += 1
        if not status.shared or error is not None or result:
            await self._record(name, now, result, error, ms)
        return result

    async def _record(
        self, name: str, started: datetime, result: int | None, error: str | None, ms: float
    ) -> None:
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    RECORD,
                    {
                        "name": name,
                        "finished": started + timedelta(milliseconds=ms),
                        "started": started,
                        "result": result,
                        "error": error,
                        "ms": ms,
                        "runner": RUNNER,
                    },
                )
        except Exception:  # the record is for humans; the job's own work is committed
            log.exception("could not record the run of job %s", name)

    def start(self) -> None:
        if not self.scheduler.running:
            self.scheduler.start()

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
