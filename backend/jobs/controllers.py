"""GET /admin/jobs: every periodic job, its last run, next run and last error."""

from datetime import datetime
from typing import Any

from litestar import Controller, Request, get
from pydantic import BaseModel
from sqlalchemy import select

from backend.auth.security import Principal
from backend.common.deps import DbSession
from backend.db.models import JobState
from backend.errors import Forbidden


class JobOut(BaseModel):
    name: str
    every_s: float
    shared: bool
    next_run_at: datetime | None
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_result: int | None
    last_duration_ms: float | None
    last_error: str | None
    last_error_at: datetime | None
    last_runner: str | None
    runs: int


class JobController(Controller):
    path = "/admin/jobs"
    tags = ["ops"]

    @get(
        "/",
        operation_id="ListJobs",
        description=(
            "The periodic jobs, as recorded by whichever API process ran them (`runs` counts "
            "runs that did work for shared jobs such as webhook delivery)."
        ),
    )
    async def list_jobs(
        self, db_session: DbSession, request: Request[Principal, Any, Any]
    ) -> list[JobOut]:
        if not request.user.is_admin:
            raise Forbidden("jobs are for admins")
        runner = request.app.state.jobs
        rows = {r.name: r for r in await db_session.scalars(select(JobState))}
        out = []
        for name, (_, status) in sorted(runner.jobs.items()):
            row = rows.get(name)
            out.append(
                JobOut(
                    name=name,
                    every_s=status.every_s,
                    shared=status.shared,
                    next_run_at=None if status.shared or row is None else row.next_run_at,
                    last_started_at=row.last_started_at if row else None,
                    last_finished_at=row.last_finished_at if row else None,
                    last_result=row.last_result if row else None,
                    last_duration_ms=row.last_duration_ms if row else None,
                    last_error=row.last_error if row else None,
                    last_error_at=row.last_error_at if row else None,
                    last_runner=row.last_runner if row else None,
                    runs=row.runs if row else 0,
                )
            )
        return out
