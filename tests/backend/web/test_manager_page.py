"""The manager page in a real headless Chromium (Debian's, driven by Playwright): log in, open a
day, see the route drawn, write a coaching note, see it listed."""

from __future__ import annotations

import shutil

from playwright.async_api import async_playwright

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


async def test_a_manager_reviews_a_day_and_writes_a_note(live_server: str, day: Day) -> None:  # noqa: F811
    assert (LEAFLET / "leaflet.js").exists(), "Leaflet is installed at setup (./dev)"
    t = day.t
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = await browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(f"{live_server}/manager/")
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
