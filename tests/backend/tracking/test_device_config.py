"""Settings from the server (backend/tracking/device_config.py): a phone asks what to do with
its own credential; the answer follows the agent's profile and the fences near it, and its
ETag says when nothing changed."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.backend.world import Tenant, auth, errors_for, ok

LAT, LON = 37.5547, 126.9707


async def _device_token(client: AsyncTestClient[Litestar], t: Tenant) -> tuple[str, str]:
    device = await t.device("agent", "configured phone")
    code = await ok(await client.post(f"/devices/{device['id']}/enrollment", headers=t.h("admin")))
    creds = await ok(
        await client.post("/auth/device/enroll", json={"tenant": t.slug, "code": code["code"]}),
        200,
    )
    return device["id"], creds["access_token"]


async def test_the_config_follows_the_profile_and_says_when_it_changed(
    client: AsyncTestClient[Litestar], tenant: Tenant
) -> None:
    device_id, token = await _device_token(client, tenant)
    first = await client.get("/devices/me/config", headers=auth(token))
    got: dict[str, Any] = await ok(first, 200)
    assert got["device_id"] == device_id and got["shift"] is None and got["fences"] == []
    assert got["upload_interval_s"] == 300 and got["track_outside_shift"] is False
    assert set(got["sampling"]) == {"moving", "stationary", "at_customer"}
    assert got["sampling"]["moving"]["interval_s"] < got["sampling"]["stationary"]["interval_s"]
    etag = first.headers["etag"]
    same = await client.get("/devices/me/config", headers={**auth(token), "If-None-Match": etag})
    assert same.status_code == 304 and same.headers["etag"] == etag

    soon = datetime.now(ZoneInfo("Asia/Seoul")).date() + timedelta(days=3)
    profile = {"start": {"lat": LAT, "lon": LON}, "shift_start": "08:30:00",
               "shift_end": "17:30:00", "timezone": "Asia/Seoul",
               "time_off": [{"first": soon.isoformat(), "last": soon.isoformat()}]}  # fmt: skip
    await ok(
        await client.put(
            f"/agents/{tenant.users['agent']}/profile", json=profile, headers=tenant.h("manager")
        ),
        200,
    )
    fence = await tenant.post(
        "manager",
        "/geofences",
        {"name": "Branch office", "circle": {"lat": LAT, "lon": LON + 0.001, "radius_m": 60}},
    )
    changed = await client.get("/devices/me/config", headers={**auth(token), "If-None-Match": etag})
    got = await ok(changed, 200)
    assert changed.headers["etag"] != etag
    assert got["shift"] == {"timezone": "Asia/Seoul", "start": "08:30", "end": "17:30",
                            "days": [1, 2, 3, 4, 5, 6, 7], "holidays": [],
                            "time_off": [soon.isoformat()]}  # fmt: skip
    assert [f["id"] for f in got["fences"]] == [fence["id"]]
    assert (
        20 <= got["fences"][0]["distance_m"] <= 35
    )  # to its edge: 88 m to the centre, 60 m radius


async def test_who_may_ask_for_which_device(
    client: AsyncTestClient[Litestar], tenant: Tenant
) -> None:
    device_id, token = await _device_token(client, tenant)
    resp = await client.get("/devices/me/config", headers=tenant.h("agent"))
    assert resp.status_code == 422 and errors_for(resp) == ["device_id"]
    mine = await client.get(
        "/devices/me/config", params={"device_id": device_id}, headers=tenant.h("agent")
    )
    assert (await ok(mine, 200))["device_id"] == device_id
    theirs = await client.get(
        "/devices/me/config", params={"device_id": device_id}, headers=tenant.h("agent2")
    )
    assert theirs.status_code == 404 and errors_for(theirs) == ["device_id"]
    other = await tenant.device("agent", "another phone")
    resp = await client.get(
        "/devices/me/config", params={"device_id": other["id"]}, headers=auth(token)
    )
    assert resp.status_code == 422 and errors_for(resp) == ["device_id"]
    assert (await client.get("/devices/me/config")).status_code == 401
