"""Working-hours capture: points outside an agent's shift are acknowledged but not stored,
unless the tenant says otherwise (`PATCH /tenant/settings`, admins)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.backend.tracking.conftest import LAT, LON, Field

SEOUL = ZoneInfo("Asia/Seoul")
YESTERDAY = (datetime.now(SEOUL) - timedelta(days=1)).date()


def at(hh: int, mm: int) -> dict[str, object]:
    local = datetime(YESTERDAY.year, YESTERDAY.month, YESTERDAY.day, hh, mm, tzinfo=SEOUL)
    return {
        "client_id": str(uuid.uuid4()),
        "time": local.isoformat(),
        "lat": LAT,
        "lon": LON + 0.05,
        "accuracy_m": 10,
    }


async def stored(engine: AsyncEngine, device: str) -> int:
    async with engine.connect() as conn:
        n = await conn.scalar(
            text("SELECT count(*) FROM pings WHERE device_id = :d"), {"d": device}
        )
    return int(n or 0)


async def test_points_outside_the_shift_are_not_kept(
    client: AsyncTestClient[Litestar], field: Field, engine: AsyncEngine
) -> None:
    t = field.tenant
    profile = {
        "start": {"lat": LAT, "lon": LON},
        "shift_start": "09:00",
        "shift_end": "18:00",
        "timezone": "Asia/Seoul",
    }
    resp = await client.put(
        f"/agents/{t.users['agent2']}/profile", json=profile, headers=t.h("admin")
    )
    assert resp.status_code in (200, 201), resp.text
    device = await field.device("agent2")

    async def send(points: list[dict[str, object]]) -> Any:
        return await client.post(
            "/ingest/locations", json={"device_id": device, "points": points}, headers=t.h("agent2")
        )

    day = [at(8, 30), at(9, 0), at(17, 59), at(18, 0), at(23, 10)]
    resp = await send(day)
    body = resp.json()
    assert resp.status_code == 200, resp.text
    assert (body["accepted"], body["discarded"]) == (2, 3)
    statuses = [r["status"] for r in body["results"]]
    assert statuses == ["discarded", "accepted", "accepted", "discarded", "discarded"]
    assert await stored(engine, device) == 2
    # Re-sending them changes nothing: still acknowledged, still not kept.
    again = (await send(day)).json()
    assert (again["duplicates"], again["discarded"]) == (2, 3)
    assert await stored(engine, device) == 2

    # An agent without a planning profile has no known shift: everything is kept.
    other = await field.device("agent")
    resp = await client.post(
        "/ingest/locations",
        json={"device_id": other, "points": [at(3, 0), at(23, 0)]},
        headers=t.h("agent"),
    )
    assert resp.json()["accepted"] == 2

    # The tenant says otherwise: points outside the shift are kept from then on.
    settings = await client.get("/tenant/settings", headers=t.h("admin"))
    privacy = {
        k: v
        for k, v in settings.json().items()
        if k
        not in (
            "score_weights",
            "plan_time_limit_s",
            "travel_provider",
            "timezone",
            "holiday_country",
            "cadences",
        )
    }
    assert privacy == {
        "retention_points_days": 30,
        "retention_records_days": 365,
        "capture_outside_shift": False,
    }
    turned = await client.patch(
        "/tenant/settings", json={"capture_outside_shift": True}, headers=t.h("admin")
    )
    assert turned.status_code == 200 and turned.json()["capture_outside_shift"] is True
    late = (await send([at(6, 0), at(22, 0)])).json()
    assert (late["accepted"], late["discarded"]) == (2, 0)
    assert await stored(engine, device) == 4


async def test_only_admins_change_the_settings(
    client: AsyncTestClient[Litestar], field: Field
) -> None:
    t = field.tenant
    assert (await client.get("/tenant/settings", headers=t.h("manager"))).status_code == 403
    resp = await client.patch(
        "/tenant/settings", json={"capture_outside_shift": True}, headers=t.h("agent")
    )
    assert resp.status_code == 403
    bad = await client.patch(
        "/tenant/settings", json={"retention_points_days": 0}, headers=t.h("admin")
    )
    assert bad.status_code == 422 and "retention_points_days" in bad.text


async def test_points_older_than_retention_are_not_kept_and_aged_resends_are_duplicates(
    client: AsyncTestClient[Litestar], field: Field, engine: AsyncEngine
) -> None:
    t = field.tenant
    device = await field.device("agent")  # no planning profile: no shift to keep to
    old = {**at(10, 0), "time": (datetime.now(SEOUL) - timedelta(days=40)).isoformat()}
    aged = {**at(10, 0), "age_s": 120.0}
    del aged["time"]
    resp = await client.post(
        "/ingest/locations",
        json={"device_id": device, "points": [old, aged]},
        headers=t.h("agent"),
    )
    results = resp.json()["results"]
    assert [(r["status"], r["reason"]) for r in results] == [
        ("discarded", "older than this tenant keeps points"),
        ("accepted", None),
    ]
    # The phone re-sends the aged point a little later: its age has grown by the wait, the
    # network delay differs, so its computed fix time moves. Still the same point.
    again = await client.post(
        "/ingest/locations",
        json={"device_id": device, "points": [{**aged, "age_s": 121.7}]},
        headers=t.h("agent"),
    )
    assert (again.json()["accepted"], again.json()["duplicates"]) == (0, 1)
    assert await stored(engine, device) == 1
