"""The manager page in a real headless Chromium (Debian's, driven by Playwright): log in, open a
day, see the route drawn, write a coaching note, see it listed; follow the team live; plan an
agent's week and read it; the page in Korean and in English."""

from __future__ import annotations

import contextlib
import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

from litestar import Litestar
from litestar.testing import AsyncTestClient
from playwright.async_api import Page, async_playwright
from sqlalchemy.ext.asyncio import AsyncSession

from backend.web.controllers import LEAFLET
from tests.backend.activity.test_day import DAY, Day, day  # noqa: F401 (the constructed day)
from tests.backend.world import PASSWORD, Tenant, make_tenant

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


@contextlib.asynccontextmanager
async def manager_page(locale: str = "en-US") -> AsyncIterator[tuple[Page, list[str]]]:
    """A page of Debian's headless Chromium (its language `locale`: what it asks for in
    Accept-Language and says in navigator.languages), and the script errors it raised."""
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = await browser.new_page(locale=locale)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            yield page, errors
        finally:
            await browser.close()


async def log_in(page: Page, base: str, tenant: str, email: str) -> None:
    await page.goto(f"{base}/manager/")
    await page.fill("input[name=tenant]", tenant)
    await page.fill("input[name=email]", email)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("#login-form button[type=submit]")


async def test_a_manager_reviews_a_day_and_writes_a_note(live_server: str, day: Day) -> None:  # noqa: F811
    assert (LEAFLET / "leaflet.js").exists(), "Leaflet is installed at setup (./dev)"
    t = day.t
    async with manager_page() as (page, errors):
        await log_in(page, live_server, t.slug, f"manager@{t.slug}.test")
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


async def test_a_ping_sent_to_the_api_moves_the_agents_marker_live(
    live_server: str, client: AsyncTestClient[Litestar], tenant: Tenant
) -> None:
    """The team's live stream on the map: the agent's marker appears where the phone is and
    follows it (the ping goes through another app than the page's: PostgreSQL fans it out).
    The admin watches T2, whose agent has no shift (the day fixture gives T1's one)."""
    t = tenant
    device = str((await t.device("agent2"))["id"])

    async def ping(north_m: float, ago_s: float = 0) -> float:
        lat = 37.5665 + north_m / 111_195
        at = datetime.now(UTC) - timedelta(seconds=ago_s)
        fix = {"client_id": str(uuid.uuid4()), "time": at.isoformat(),
               "lat": lat, "lon": 126.978, "accuracy_m": 8}  # fmt: skip
        r = await client.post(
            "/ingest/locations", json={"device_id": device, "points": [fix]}, headers=t.h("agent2")
        )
        assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
        return lat

    async with manager_page() as (page, errors):
        await log_in(page, live_server, t.slug, f"admin@{t.slug}.test")
        await page.wait_for_selector("#team option", state="attached")
        await page.select_option("#team", str(t.units["T2"]))
        await page.check("#live")
        await page.wait_for_function(
            "document.querySelector('#live-status').textContent === 'live'"
        )
        first = await ping(0, ago_s=60)
        marker = page.locator("path.live-agent")
        await marker.wait_for()
        assert float(await marker.get_attribute("data-lat") or 0) == first
        assert await marker.get_attribute("data-agent") == str(t.users["agent2"])
        before = await marker.get_attribute("d")
        second = await ping(200)
        await page.wait_for_function(
            f"document.querySelector('path.live-agent').dataset.lat === '{second}'"
        )
        assert await marker.get_attribute("d") != before  # it moved on the map
        assert await page.locator("path.live-agent").count() == 1
        assert "1 agent(s)" in await page.inner_text("#live-status")
        assert errors == []


async def a_seoul_agent(
    client: AsyncTestClient[Litestar], session: AsyncSession
) -> tuple[Tenant, str]:
    """A tenant of its own whose agent works Monday to Friday in Seoul."""
    t = await make_tenant(client, session)
    agent = str(t.users["agent"])
    profile = {"start": {"lat": 37.5665, "lon": 126.978}, "timezone": "Asia/Seoul",
               "workdays": [1, 2, 3, 4, 5]}  # fmt: skip
    r = await client.put(f"/agents/{agent}/profile", json=profile, headers=t.h("admin"))
    assert r.status_code == 200, r.text
    return t, agent


def a_monday_ahead() -> date:
    today = datetime.now(UTC).date()
    return today + timedelta(days=14 - today.weekday())


async def test_a_manager_plans_an_agents_week_and_reads_it_day_by_day(
    live_server: str, client: AsyncTestClient[Litestar], session: AsyncSession
) -> None:
    """The Week pane: no week plan yet, then *Plan this week*: a row per day, the weekend off
    with its reason, the due customers counted."""
    t, agent = await a_seoul_agent(client, session)
    for k in range(2):
        body = {"name": f"due {k}", "lat": 37.57 + 0.01 * k, "lon": 126.98, "status": "customer",
                "org_unit_id": str(t.units["T1"]), "assigned_agent_id": agent,
                "cadence": {"every_weeks": 2}}  # fmt: skip
        await t.post("admin", "/customers", body)
    monday = a_monday_ahead()
    async with manager_page() as (page, errors):
        await log_in(page, live_server, t.slug, f"manager@{t.slug}.test")
        await page.wait_for_selector("#team option", state="attached")
        await page.fill("#day", (monday + timedelta(days=2)).isoformat())
        await page.click("#open-day")
        await page.wait_for_function(
            "document.querySelector('#week-summary').textContent.includes('no week plan')"
        )
        await page.click("#plan-week")
        await page.wait_for_selector("#week tbody tr")
        assert await page.locator("#week tbody tr").count() == 7
        summary = await page.inner_text("#week-summary")
        assert summary.startswith("2 of 2 customers due this week planned"), summary
        saturday = (monday + timedelta(days=5)).isoformat()
        assert "not a working day" in await page.inner_text(f"#week tr[data-day='{saturday}']")
        due_seen = await page.locator("#week tbody tr td:nth-child(3)").all_inner_texts()
        assert sum(int(x) for x in due_seen if x.isdigit()) == 2
        assert errors == []


async def test_the_page_speaks_korean_to_a_korean_manager_and_english_to_others(
    live_server: str, client: AsyncTestClient[Litestar], session: AsyncSession
) -> None:
    """A Korean browser sees the login in Korean; a manager whose setting is Korean reads the
    page in Korean whatever the browser, the API's texts too (a week's days off), dates the
    Korean way; with the setting cleared, an English browser reads English."""
    t, agent = await a_seoul_agent(client, session)
    monday = a_monday_ahead()
    r = await client.post(
        "/week-plans", json={"agent_id": agent, "week_start": monday.isoformat()},
        headers=t.h("manager"),
    )  # fmt: skip
    assert r.status_code == 201, r.text
    saturday = (monday + timedelta(days=5)).isoformat()

    async def open_week(page: Page) -> None:
        await page.wait_for_selector("#team option", state="attached")
        await page.fill("#day", (monday + timedelta(days=2)).isoformat())
        await page.click("#open-day")
        await page.wait_for_selector(f"#week tr[data-day='{saturday}']")

    async with manager_page("ko-KR") as (page, errors):
        await page.goto(f"{live_server}/manager/")
        await page.wait_for_function("document.documentElement.lang === 'ko'")
        assert await page.inner_text("#login-form h2") == "로그인"
        assert "회사" in await page.inner_text("#login-form")
        assert errors == []

    r = await client.patch("/auth/me", json={"locale": "ko"}, headers=t.h("manager"))
    assert r.status_code == 200 and r.json()["language"] == "ko"
    async with manager_page("en-US") as (page, errors):
        await log_in(page, live_server, t.slug, f"manager@{t.slug}.test")
        await open_week(page)
        assert await page.inner_text("#who") == "매니저(으)로 로그인됨"
        assert "요약" in await page.inner_text(".side")
        assert "주간" in await page.inner_text("#week-pane h2")
        saturday_row = await page.inner_text(f"#week tr[data-day='{saturday}']")
        assert "토요일" in saturday_row and "근무일이 아닙니다" in saturday_row, saturday_row
        assert "월" in saturday_row.split("\t")[0], saturday_row  # its date, ko-KR (Intl)
        assert errors == []

    r = await client.patch("/auth/me", json={"locale": None}, headers=t.h("manager"))
    assert r.status_code == 200
    async with manager_page("en-US") as (page, errors):
        await log_in(page, live_server, t.slug, f"manager@{t.slug}.test")
        await open_week(page)
        assert await page.inner_text("#who") == "signed in as manager"
        assert "Summary" in await page.inner_text(".side")
        saturday_row = await page.inner_text(f"#week tr[data-day='{saturday}']")
        assert "Saturday is not a working day" in saturday_row, saturday_row
        assert errors == []
