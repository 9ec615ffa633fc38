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

    @post(["/ingest/locations", "/ingest/x"], status_code=200)
    async def upload() -> dict[str, bool]:
        await work()
        return {"ok": True}

    @post("/visits", status_code=200)
    async def other() -> dict[str, bool]:
        await work()
        return {"ok": True}

    app = Litestar([upload, other], on_app_init=[UploadAdmission(slots).on_app_init])
    return app, seen


@pytest.mark.parametrize(
    ("path", "slots", "most"),
    [
        ("/ingest/locations", 2, 2),  # uploads beyond the limit wait their turn
        ("/visits", 1, 7),  # other requests are not held back
    ],
)
async def test_uploads_at_once_are_bounded(path: str, slots: int, most: int) -> None:
    app, seen = _app(slots)
    with serve_app(app) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            answers = await asyncio.gather(*(client.post(path) for _ in range(7)))
    assert [r.status_code for r in answers] == [200] * 7  # none refused
    assert seen["most"] == most


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        UploadAdmission(0)


async def test_an_app_served_again_admits_again() -> None:
    """Each serving gets its own event loop (here, and in tests that start the app twice)."""
    app, seen = _app(2)
    for _ in range(2):
        with serve_app(app) as url:
            async with httpx.AsyncClient(base_url=url) as client:
                answers = await asyncio.gather(*(client.post("/ingest/x") for _ in range(7)))
        assert [r.status_code for r in answers] == [200] * 7
        assert seen["most"] == 2
