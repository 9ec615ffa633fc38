"""One job runner for all periodic work.

Every API process runs the scheduler; a job takes a PostgreSQL advisory lock (transaction
scoped, keyed by the job's name) before it works, so each firing runs in one process only.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

log = logging.getLogger("fieldsense.jobs")
Job = Callable[[AsyncSession, datetime], Awaitable[int]]


def lock_key(name: str) -> int:
    """A stable 32-bit key per job name (advisory locks take a bigint)."""
    return zlib.crc32(name.encode())


@dataclass
class JobStatus:
    name: str
    every_s: float
    last_run: datetime | None = None
    last_result: int | None = None
    last_error: str | None = None
    runs: int = 0


@dataclass
class JobRunner:
    engine: AsyncEngine
    scheduler: AsyncIOScheduler = field(default_factory=lambda: AsyncIOScheduler(timezone=UTC))
    jobs: dict[str, tuple[Job, JobStatus]] = field(default_factory=dict)

    def add(self, name: str, job: Job, every_s: float) -> None:
        self.jobs[name] = (job, JobStatus(name, every_s))
        self.scheduler.add_job(
            self.run,
            "interval",
            seconds=every_s,
            args=[name],
            id=name,
            coalesce=True,
            max_instances=1,
        )

    async def run(self, name: str, now: datetime | None = None) -> int | None:
        """Run one job now, if no other process holds its lock; None when skipped."""
        job, status = self.jobs[name]
        now = now or datetime.now(UTC)
        try:
            async with (
                AsyncSession(self.engine, expire_on_commit=False) as session,
                session.begin(),
            ):
                got = await session.scalar(select(func.pg_try_advisory_xact_lock(lock_key(name))))
                if not got:
                    return None
                result = await job(session, now)
        except Exception as exc:  # a failing job is logged and retried at its next firing
            status.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("job %s failed", name)
            return None
        status.last_run, status.last_result, status.last_error = now, result, None
        status.runs += 1
        return result

    def start(self) -> None:
        if not self.scheduler.running:
            self.scheduler.start()

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
