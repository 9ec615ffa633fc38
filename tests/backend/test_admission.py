"""Uploads in progress at once per process are bounded; the rest wait, none is refused
(backend/common/admission.py)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from litestar import Litestar, post

from backend.common.admission import UploadAdmission
from tests.conftest import serve_app


def _app(slots: int) -> tuple[Litestar, dict[str, int]]:
    seen = {"now": 0, "most": 0}

    async def work() -> None:
        seen["now"] += 1
        seen["most"] = max(seen["most"], seen["now"])
        await asyncio.sleep(0.05)
        seen["now"] -= 1

    @post("/ingest/locations", status_code=200)
    async def upload() -> dict[str, bool]:
        await work()
        return {"ok": True}

    @post("/visits", status_code=200)
    async def other() -> dict[str, bool]:
        await work()
        return {"ok": True}

    app = Litestar([upload, other], on_app_init=[UploadAdmission(slots).on_app_init])
    return app, seen


async def test_uploads_beyond_the_limit_wait_their_turn() -> None:
    app, seen = _app(2)
    with serve_app(app) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            answers = await asyncio.gather(*(client.post("/ingest/locations") for _ in range(7)))
    assert [r.status_code for r in answers] == [200] * 7
    assert seen["most"] == 2


async def test_other_requests_are_not_held_back() -> None:
    app, seen = _app(1)
    with serve_app(app) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            answers = await asyncio.gather(*(client.post("/visits") for _ in range(5)))
    assert [r.status_code for r in answers] == [200] * 5
    assert seen["most"] == 5


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        UploadAdmission(0)
