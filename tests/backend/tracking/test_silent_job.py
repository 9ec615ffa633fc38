"""The silent-device job exits devices that stopped reporting, stamped at their last point."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.jobs.runner import JobRunner
from backend.tracking.jobs import exit_silent_devices
from tests.backend.tracking.conftest import IBEACON, Field, at, point, recent


async def test_silent_device_is_exited_at_its_last_point(
    client: AsyncTestClient[Litestar], field: Field, engine: AsyncEngine
) -> None:
    device = await field.device()
    h = field.tenant.h("agent")
    pts = [recent(10 - i, 0) for i in range(10)]  # inside the fence for the last 10 minutes
    resp = await client.post(
        "/ingest/locations", json={"device_id": device, "points": pts}, headers=h
    )
    assert resp.status_code == 200, resp.text
    sightings = [{"ibeacon_uuid": IBEACON, "major": 1, "minor": 2, "rssi": -60}]
    scan = {"time": datetime.now(UTC).isoformat(), "sightings": sightings}
    await client.post("/ingest/beacons", json={"device_id": device, "scans": [scan]}, headers=h)

    def kinds(items: list[dict[str, Any]]) -> list[str]:
        return sorted(e["kind"] for e in items)

    before = (await client.get("/events", params={"device_id": device}, headers=h)).json()["items"]
    assert "exited" not in kinds(before) and "beacon_exited" not in kinds(before)

    runner = JobRunner(engine)
    runner.add("exit_silent_devices", exit_silent_devices, every_s=60)
    later = datetime.now(UTC) + timedelta(hours=1)
    assert (await runner.run("exit_silent_devices", now=later) or 0) >= 3
    after = (await client.get("/events", params={"device_id": device}, headers=h)).json()["items"]
    new = [e for e in after if e["id"] not in {b["id"] for b in before}]
    assert kinds(new) == [
        "beacon_exited", "device_silent", "exited", "sighting_ended", "visit_ended"
    ]  # fmt: skip
    last_point = max(
        datetime.fromisoformat(p["time"])
        for p in (await client.get(f"/devices/{device}/timeline", headers=h)).json()["points"]
    )
    exited = next(e for e in new if e["kind"] == "exited")
    assert datetime.fromisoformat(exited["occurred_at"]) == last_point
    # Running again finds nothing more to do.
    assert await runner.run("exit_silent_devices", now=later) == 0
    status = runner.jobs["exit_silent_devices"][1]
    assert status.runs == 2 and status.last_error is None


async def test_moving_or_deleting_a_fence_gives_synthetic_events(
    client: AsyncTestClient[Litestar], field: Field
) -> None:
    device = await field.device()
    h = field.tenant.h("agent")
    far_lat, far_lon = at(0, -5000)
    fence = await field.tenant.post(
        "manager",
        "/geofences",
        {"name": "moving", "circle": {"lat": far_lat, "lon": far_lon, "radius_m": 100}},
    )
    pts = []
    for i in range(5):
        lat, lon = at(0, -8000)
        pts.append(
            {
                "client_id": str(uuid.uuid4()),
                "age_s": 300 - i * 60,
                "lat": lat,
                "lon": lon,
                "accuracy_m": 8,
            }
        )
    assert (
        await client.post("/ingest/locations", json={"device_id": device, "points": pts}, headers=h)
    ).status_code == 200
    mine = {"device_id": device, "fence_id": fence["id"]}
    assert (await client.get("/events", params=mine, headers=h)).json()["items"] == []
    # The fence moves onto the device: it is inside now.
    lat, lon = at(0, -8000)
    moved = await client.patch(
        f"/geofences/{fence['id']}",
        json={"circle": {"lat": lat, "lon": lon, "radius_m": 150}},
        headers=field.tenant.h("manager"),
    )
    assert moved.status_code == 200, moved.text
    items = (await client.get("/events", params=mine, headers=h)).json()["items"]
    assert [(e["kind"], e["data"].get("synthetic")) for e in items] == [
        ("entered", "fence_changed")
    ]
    # Deleted: the device is out.
    assert (
        await client.delete(f"/geofences/{fence['id']}", headers=field.tenant.h("manager"))
    ).status_code == 204
    items = (await client.get("/events", params=mine, headers=h)).json()["items"]
    assert sorted((e["kind"], e["data"].get("synthetic")) for e in items) == [
        ("entered", "fence_changed"),
        ("exited", "fence_deleted"),
    ]


async def test_a_day_uploaded_late_in_batches_is_one_stay(
    client: AsyncTestClient[Litestar], field: Field, engine: AsyncEngine
) -> None:
    """Yesterday's 40-minute stay, uploaded today in four batches: the device is uploading,
    so it is not silent; one entry, one exit, one visit."""
    device = await field.device()
    h = field.tenant.h("agent")
    pts = [point(600 + 30 * i, 0) for i in range(80)] + [
        point(3100 + 30 * i, 2000) for i in range(5)
    ]
    for k in range(0, len(pts), 25):
        resp = await client.post(
            "/ingest/locations", json={"device_id": device, "points": pts[k : k + 25]}, headers=h
        )
        assert resp.status_code == 200, resp.text
    items = (
        await client.get("/events", params={"device_id": device, "limit": 500}, headers=h)
    ).json()["items"]
    kinds = sorted(e["kind"] for e in items if e["kind"] in ("entered", "exited", "device_silent"))
    assert kinds == ["entered", "exited"]


async def test_points_that_continue_undo_a_silence_exit(
    client: AsyncTestClient[Litestar], field: Field, engine: AsyncEngine
) -> None:
    """The phone went quiet (no uploads) for over half an hour and the job exited it; then
    its offline stretch arrives and shows it never left: the exit is retracted."""
    device = await field.device()
    h = field.tenant.h("agent")
    first = [recent(50 - i, 0) for i in range(10)]  # 50 to 41 minutes ago, inside the fence
    resp = await client.post(
        "/ingest/locations", json={"device_id": device, "points": first}, headers=h
    )
    assert resp.status_code == 200
    runner = JobRunner(engine)
    runner.add("exit_silent_devices", exit_silent_devices, every_s=60)
    later = datetime.now(UTC) + timedelta(minutes=31)
    assert (await runner.run("exit_silent_devices", now=later) or 0) >= 2

    def mine(items: list[dict[str, Any]]) -> list[str]:
        return sorted(
            e["kind"] for e in items if e["kind"] in ("entered", "exited", "device_silent")
        )

    params = {"device_id": device, "limit": 500}
    exited = (await client.get("/events", params=params, headers=h)).json()["items"]
    assert mine(exited) == ["device_silent", "entered", "exited"]
    rest = [recent(40 - i, 0) for i in range(30)] + [recent(9 - i, 3000) for i in range(5)]
    resp = await client.post(
        "/ingest/locations", json={"device_id": device, "points": rest}, headers=h
    )
    assert resp.status_code == 200, resp.text
    after = (await client.get("/events", params=params, headers=h)).json()["items"]
    assert mine(after) == ["entered", "exited"], "the provisional exit is gone"
    exit_time = next(e for e in after if e["kind"] == "exited")["occurred_at"]
    assert datetime.fromisoformat(exit_time) > datetime.now(UTC) - timedelta(minutes=12)
    retracted = (
        await client.get("/events", params={**params, "include_retracted": True}, headers=h)
    ).json()["items"]
    assert sorted(e["kind"] for e in retracted if e.get("retracted_at")) >= [
        "device_silent",
        "exited",
    ]
