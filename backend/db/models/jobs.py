"""The periodic jobs' shared schedule (see backend/jobs/runner.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base


class JobState(Base):
    """Each periodic job's schedule and last outcome, shared by every API process."""

    __tablename__ = "job_state"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    every_s: Mapped[float] = mapped_column(Float)
    next_run_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_result: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_duration_ms: Mapped[float | None] = mapped_column(Float)
    last_runner: Mapped[str | None] = mapped_column(Text)
    runs: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
