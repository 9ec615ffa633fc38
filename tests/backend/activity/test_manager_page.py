"""The manager page in a real headless Chromium (Debian's, driven by Playwright): log in, open a
day, see the route drawn, write a coaching note, see it listed."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from playwright.async_api import async_playwright

from backend.app import create_app
from backend.config import Settings
from backend.embedded_db import free_port
from backend.web.controllers import LEAFLET
from tests.backend.activity.test_day import DAY, Day, day  # noqa: F401 (the constructed day)
from tests.backend.world import PASSWORD

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[str]:
    """The API and the page over real HTTP on loopback, in a thread of its own."""
    port = free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not srv.started:
        assert time.time() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


async def test_a_manager_reviews_a_day_and_writes_a_note(server: str, day: Day) -> None:  # noqa: F811
    assert (LEAFLET / "leaflet.js").exists(), "Leaflet is installed at setup (./dev)"
    t = day.t
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = await browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(f"{server}/manager/")
            await page.fill("input[name=tenant]", t.slug)
            await page.fill("input[name=email]", f"manager@{t.slug}.test")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("#login-form button[type=submit]")
            await page.wait_for_selector("#day-view:not([hidden])")
            await page.wait_for_selector("#team option", state="attached")
            assert await page.input_value("#team") == str(t.units["T1"])

            await page.fill("#day", DAY.isoformat())
            await page.click("#open-day")
            # The planned route and the track are drawn on the map (SVG paths), the timeline
            # and the plan against actual are listed.
            await page.wait_for_selector("path.route-line")
            await page.wait_for_selector("path.track-line")
            assert await page.locator("path.ping").count() == 35
            assert await page.locator("path.visit").count() == 3
            assert await page.locator("#pva tbody tr").count() == 4  # 3 stops + unplanned
            assert "skipped" in await page.inner_text("#pva")
            assert "visit" in await page.inner_text("#timeline")

            await page.fill("#note-body", "Start with C tomorrow, it slipped today.")
            await page.click("#note-form button[type=submit]")
            await page.wait_for_selector("#notes li.note")
            assert "Start with C tomorrow" in await page.inner_text("#notes")
            assert errors == []
        finally:
            await browser.close()
