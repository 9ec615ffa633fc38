"""The day ends: open visits close at the last point when the app says the day is over, or
when the agent's shift (plus a grace) has ended, not only after 30 minutes of silence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.jobs.runner import JobRunner
from backend.tracking.jobs import close_finished_days
from tests.backend.tracking.conftest import Field, at, recent


async def stay_at_the_office(client: AsyncTestClient[Litestar], field: Field, who: str) -> str:
    """Ten minutes inside the office's fence, up to a minute ago: a visit open."""
    device = await field.device(who)
    pts = [recent(11 - i, 0) for i in range(11)]
    resp = await client.post(
        "/ingest/locations", json={"device_id": device, "points": pts}, headers=field.tenant.h(who)
    )
    assert resp.status_code == 200, resp.text
    return device


async def events(client: AsyncTestClient[Litestar], field: Field, device: str) -> list[Any]:
    resp = await client.get(
        "/events", params={"device_id": device, "limit": 500}, headers=field.tenant.h("admin")
    )
    assert resp.status_code == 200, resp.text
    items: list[Any] = resp.json()["items"]
    return items


async def last_point(client: AsyncTestClient[Litestar], field: Field, device: str) -> datetime:
    timeline = await client.get(
        f"/devices/{device}/timeline",
        params={"since": (datetime.now(UTC) - timedelta(hours=1)).isoformat()},
        headers=field.tenant.h("admin"),
    )
    return max(datetime.fromisoformat(p["time"]) for p in timeline.json()["points"])


class TestTheAppEndsTheDay:
    async def test_open_visits_end_at_the_last_point(
        self, client: AsyncTestClient[Litestar], field: Field
    ) -> None:
        device = await stay_at_the_office(client, field, "agent")
        before = {e["kind"] for e in await events(client, field, device)}
        assert "visit_started" in before and "visit_ended" not in before
        resp = await client.post(
            "/ingest/day-end", json={"device_id": device}, headers=field.tenant.h("agent")
        )
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["events"] >= 2
        last = await last_point(client, field, device)
        assert datetime.fromisoformat(body["closed_at"]) == last
        ended = [e for e in await events(client, field, device) if e["kind"] == "visit_ended"]
        assert len(ended) == 1 and datetime.fromisoformat(ended[0]["occurred_at"]) == last
        # Nothing is open any more: saying it again changes nothing.
        again = await client.post(
            "/ingest/day-end", json={"device_id": device}, headers=field.tenant.h("agent")
        )
        assert again.json() == {"events": 0, "closed_at": None}

    async def test_someone_elses_device_is_not_found(
        self, client: AsyncTestClient[Litestar], field: Field
    ) -> None:
        device = await field.device("agent2")
        resp = await client.post(
            "/ingest/day-end", json={"device_id": device}, headers=field.tenant.h("agent")
        )
        assert resp.status_code == 404, resp.text
        bad = await client.post(
            "/ingest/day-end", json={"device_id": "nope"}, headers=field.tenant.h("agent")
        )
        assert bad.status_code in (400, 422)
        assert "device_id" in bad.text


class TestTheShiftEnds:
    async def test_stays_still_open_after_the_shift_close_at_the_last_point(
        self, client: AsyncTestClient[Litestar], field: Field, engine: AsyncEngine
    ) -> None:
        # A time zone where it is about noon now; the shift ends at 18:00 there.
        offset = 12 - datetime.now(UTC).hour
        zone = "Etc/GMT" + (f"{-offset:+d}" if offset else "")
        profile = {
            "start": {"lat": at(0)[0], "lon": at(0)[1]},
            "shift_start": "00:00",
            "shift_end": "18:00",
            "timezone": zone,
        }
        for who in ("agent", "agent2"):
            r = await client.put(
                f"/agents/{field.tenant.users[who]}/profile",
                json=profile,
                headers=field.tenant.h("admin"),
            )
            assert r.status_code == 200, r.text
        device = await stay_at_the_office(client, field, "agent2")
        runner = JobRunner(engine)
        runner.add("close_finished_days", close_finished_days, every_s=60)

        # An hour later it is 13:00 there: the day goes on, the visit stays open.
        await runner.run("close_finished_days", now=datetime.now(UTC) + timedelta(hours=1))
        kinds = [e["kind"] for e in await events(client, field, device)]
        assert "visit_started" in kinds and "visit_ended" not in kinds

        # Eight hours later the shift ended over 15 minutes ago: closed at the last point.
        await runner.run("close_finished_days", now=datetime.now(UTC) + timedelta(hours=8))
        ended = [e for e in await events(client, field, device) if e["kind"] == "visit_ended"]
        assert len(ended) == 1
        last = await last_point(client, field, device)
        assert datetime.fromisoformat(ended[0]["occurred_at"]) == last
