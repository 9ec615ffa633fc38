"""One stay, one visit: a shopper's stay seen by the store's fence, two of its beacons, its
Wi-Fi and a manual check-in is one visit with every source, counted once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.backend.tracking.conftest import BSSID, IBEACON, Field, at

STORE_NORTH = 3000.0  # the store of the tracking fixture


async def test_fence_beacons_wifi_and_check_in_make_one_visit(
    client: AsyncTestClient[Litestar], field: Field
) -> None:
    t = field.tenant
    store = field.store["id"]
    slat, slon = at(STORE_NORTH)
    await t.post(
        "manager",
        "/geofences",
        {"name": "Shop door", "place_id": store, "dwell_s": 120,
         "circle": {"lat": slat, "lon": slon, "radius_m": 40}},
    )  # fmt: skip
    await t.post(
        "manager",
        "/beacons",
        {"place_id": store, "protocol": "ibeacon", "ibeacon_uuid": IBEACON, "major": 1,
         "minor": 3},
    )  # fmt: skip
    who = "agent"
    h = t.h(who)
    device = await field.device(who)
    start = datetime.now(UTC) - timedelta(minutes=20)

    def when(s: float) -> str:
        return (start + timedelta(seconds=s)).isoformat()

    # Ten minutes in the store, a fix every 20 s; then walking away.
    points = [
        {"client_id": str(uuid.uuid4()), "time": when(20 * i), "lat": slat, "lon": slon,
         "accuracy_m": 8}
        for i in range(31)
    ]  # fmt: skip
    far = at(STORE_NORTH + 800)
    points += [
        {"client_id": str(uuid.uuid4()), "time": when(620 + 20 * i), "lat": far[0],
         "lon": far[1], "accuracy_m": 8}
        for i in range(5)
    ]  # fmt: skip
    beacons: list[dict[str, Any]] = [
        {"time": when(10 * i), "sightings": [
            {"ibeacon_uuid": IBEACON, "major": 1, "minor": 2, "rssi": -62},
            {"ibeacon_uuid": IBEACON, "major": 1, "minor": 3, "rssi": -66}]}
        for i in range(61)
    ] + [{"time": when(610 + 10 * i), "sightings": []} for i in range(6)]  # fmt: skip
    wifi: list[dict[str, Any]] = [
        {"time": when(30 * i), "sightings": [{"bssid": BSSID, "rssi": -60}]} for i in range(21)
    ] + [{"time": when(630 + 30 * i), "sightings": []} for i in range(4)]
    for path, body in (
        ("/ingest/locations", {"device_id": device, "points": points}),
        ("/ingest/beacons", {"device_id": device, "scans": beacons}),
        ("/ingest/wifi", {"device_id": device, "scans": wifi}),
    ):
        r = await client.post(path, json=body, headers=h)
        assert r.status_code == 200, r.text
    check_in = await client.post(
        "/visits",
        json={"place_id": store, "lat": slat, "lon": slon, "accuracy_m": 10, "at": when(60)},
        headers=h,
    )
    assert check_in.status_code == 201, check_in.text

    visits = await client.get(
        "/visits", params={"agent_id": str(t.users[who]), "place_id": store}, headers=h
    )
    found = visits.json()["items"]
    assert len(found) == 1, found
    visit = found[0]
    assert set(visit["sources"]) == {"geofence", "beacon", "wifi", "manual"}
    assert check_in.json()["id"] == visit["id"]
    # It ends with its last sighting: the fence's exit, the beacons' and the Wi-Fi's quiet.
    assert visit["departed_at"] is not None
    departed = datetime.fromisoformat(visit["departed_at"])
    assert start + timedelta(seconds=590) <= departed <= start + timedelta(seconds=700)
