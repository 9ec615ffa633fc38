"""At most so many uploads at a time in one API process; the others wait their turn.

A burst of uploads (phones coming back into coverage, or a load generator catching up on
requests that fell due while it started) once made each API process take on every request
at once: its pools opened a cold database connection for each request beyond those in use,
and a cold connection costs about 75 ms of PostgreSQL's time on its first upload (docs/
ingest.md), so the requests behind took longer still and opened more. The benchmark's
single-point latency then went from 9 ms to a p50 of 110 to 450 ms for a round. On two cores,
a few uploads in progress keep the process and the database busy; more only add connections
and switching. Admitted first, before authentication, which takes a connection of its own.
"""

from __future__ import annotations

import asyncio

from litestar.config.app import AppConfig
from litestar.middleware import DefineMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

PREFIX = "/ingest/"


class UploadAdmission:
    """The limit for one process (one app instance)."""

    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError("at least one upload must be let in at a time")
        self.slots = slots
        self._loop: asyncio.AbstractEventLoop | None = None
        self._semaphore = asyncio.Semaphore(slots)

    @property
    def semaphore(self) -> asyncio.Semaphore:
        # One per event loop serving the app (a semaphore belongs to the loop it first waited
        # in; an app served again, as tests do, gets a fresh one).
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop, self._semaphore = loop, asyncio.Semaphore(self.slots)
        return self._semaphore

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Outermost: listed after the authentication's hook, this puts itself in front."""
        app_config.middleware.insert(0, DefineMiddleware(_middleware, admission=self))
        return app_config


def _middleware(app: ASGIApp, admission: UploadAdmission) -> ASGIApp:
    async def admit(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PREFIX):
            async with admission.semaphore:
                await app(scope, receive, send)
        else:
            await app(scope, receive, send)

    return admit
