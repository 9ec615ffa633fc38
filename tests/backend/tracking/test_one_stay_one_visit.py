"""One stay, one visit: a shopper's stay seen by the store's fence, two of its beacons, its
Wi-Fi and a manual check-in is one visit with every source, counted once, and told once: a
store subscribed to visit events gets one started / ended pair, and a signed correction
when a late batch moves the visit's end."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.common.egress import TargetPolicy
from backend.tracking.queries import webhook_events
from backend.webhooks.dispatcher import Dispatcher
from simulators.receiver import Receiver
from tests.backend.tracking.conftest import BSSID, IBEACON, Field, at

STORE_NORTH = 3000.0  # the store of the tracking fixture


@pytest_asyncio.fixture(scope="module")
async def shop(field: Field) -> Field:
    """The tracking fixture's store, with a door fence and a second beacon."""
    store = field.store["id"]
    slat, slon = at(STORE_NORTH)
    await field.tenant.post(
        "manager",
        "/geofences",
        {"name": "Shop door", "place_id": store, "dwell_s": 120,
         "circle": {"lat": slat, "lon": slon, "radius_m": 40}},
    )  # fmt: skip
    await field.tenant.post(
        "manager",
        "/beacons",
        {"place_id": store, "protocol": "ibeacon", "ibeacon_uuid": IBEACON, "major": 1,
         "minor": 3},
    )  # fmt: skip
    return field


Clock = Callable[[float], str]


def fixes(when: Clock, north_m: float, start_s: float, n: int) -> list[dict[str, Any]]:
    """n fixes 20 s apart from `start_s`, `north_m` north of the fixture's origin."""
    lat, lon = at(north_m)
    return [
        {"client_id": str(uuid.uuid4()), "time": when(start_s + 20 * i), "lat": lat,
         "lon": lon, "accuracy_m": 8}
        for i in range(n)
    ]  # fmt: skip


def beacon_scans(when: Clock, until_s: float) -> list[dict[str, Any]]:
    """Both beacons every 10 s until `until_s`, then a minute of scans that see nothing."""
    seen = [
        {"ibeacon_uuid": IBEACON, "major": 1, "minor": 2, "rssi": -62},
        {"ibeacon_uuid": IBEACON, "major": 1, "minor": 3, "rssi": -66},
    ]
    return [{"time": when(10 * i), "sightings": seen} for i in range(int(until_s // 10) + 1)] + [
        {"time": when(until_s + 10 * (i + 1)), "sightings": []} for i in range(6)
    ]


def wifi_scans(when: Clock, until_s: float) -> list[dict[str, Any]]:
    """The store's access point every 30 s until `until_s`, then two minutes without it."""
    ap = [{"bssid": BSSID, "rssi": -60}]
    return [{"time": when(30 * i), "sightings": ap} for i in range(int(until_s // 30) + 1)] + [
        {"time": when(until_s + 30 * (i + 1)), "sightings": []} for i in range(4)
    ]


async def upload(
    client: AsyncTestClient[Litestar], h: dict[str, str], device: str, **bodies: Any
) -> None:
    for kind, items in bodies.items():
        key = "points" if kind == "locations" else "scans"
        r = await client.post(f"/ingest/{kind}", json={"device_id": device, key: items}, headers=h)
        assert r.status_code == 200, r.text


def clock(start: datetime) -> Clock:
    return lambda s: (start + timedelta(seconds=s)).isoformat()


async def test_fence_beacons_wifi_and_check_in_make_one_visit(
    client: AsyncTestClient[Litestar], shop: Field
) -> None:
    t, store = shop.tenant, shop.store["id"]
    slat, slon = at(STORE_NORTH)
    h = t.h("agent")
    device = await shop.device()
    start = datetime.now(UTC) - timedelta(minutes=60)  # long before the next test's stay
    when = clock(start)
    # Ten minutes in the store, a fix every 20 s; then walking away.
    points = fixes(when, STORE_NORTH, 0, 31) + fixes(when, STORE_NORTH + 800, 620, 5)
    await upload(
        client, h, device, locations=points, beacons=beacon_scans(when, 600),
        wifi=wifi_scans(when, 600),
    )  # fmt: skip
    check_in = await client.post(
        "/visits",
        json={"place_id": store, "lat": slat, "lon": slon, "accuracy_m": 10, "at": when(60)},
        headers=h,
    )
    assert check_in.status_code == 201, check_in.text

    visits = await client.get(
        "/visits", params={"agent_id": str(t.users["agent"]), "place_id": store}, headers=h
    )
    found = [v for v in visits.json()["items"] if v["device_id"] == device]
    assert len(found) == 1, found
    visit = found[0]
    assert set(visit["sources"]) == {"geofence", "beacon", "wifi", "manual"}
    assert visit["sightings"] == 5  # the fence, two beacons, the access point, the check-in
    assert check_in.json()["id"] == visit["id"]
    # It ends with its last sighting: the fence's exit, the beacons' and the Wi-Fi's quiet.
    assert visit["departed_at"] is not None
    departed = datetime.fromisoformat(visit["departed_at"])
    assert start + timedelta(seconds=590) <= departed <= start + timedelta(seconds=700)


@pytest_asyncio.fixture
async def store_hook(
    shop: Field, client: AsyncTestClient[Litestar], engine: AsyncEngine
) -> AsyncIterator[tuple[Receiver, Dispatcher]]:
    """A store app's receiver subscribed to the store's visit events, and a dispatcher."""
    receiver = Receiver().start()
    sub = await shop.tenant.post(
        "admin",
        "/webhooks/subscriptions",
        {"url": receiver.url, "place_ids": [shop.store["id"]],
         "event_types": ["visit_started", "visit_ended", "visit_updated", "visit_retracted"]},
    )  # fmt: skip
    receiver.secret = sub["secret"]
    policy = TargetPolicy.from_settings(False, ["127.0.0.0/8"])
    yield (
        receiver,
        Dispatcher(
            engine, policy, timeout_s=2.0, retry_hours=25.0, seed=7, events=webhook_events()
        ),
    )
    receiver.stop()
    r = await client.delete(f"/webhooks/subscriptions/{sub['id']}", headers=shop.tenant.h("admin"))
    assert r.status_code == 204, r.text


async def test_a_store_hears_of_a_stay_once_and_of_a_late_correction_once(
    client: AsyncTestClient[Litestar], shop: Field, store_hook: tuple[Receiver, Dispatcher]
) -> None:
    receiver, dispatcher = store_hook
    h = shop.tenant.h("agent")
    device = await shop.device()
    start = datetime.now(UTC) - timedelta(minutes=12)  # within the live window
    when = clock(start)
    # Five minutes in the store; the phone's fixes of the walk out come late: the first
    # upload goes from the store straight to a fix 800 m away four minutes later.
    inside, far = fixes(when, STORE_NORTH, 0, 16), STORE_NORTH + 800
    await upload(client, h, device, locations=inside + fixes(when, far, 560, 6))
    await upload(client, h, device, beacons=beacon_scans(when, 300), wifi=wifi_scans(when, 300))
    slat, slon = at(STORE_NORTH)
    check_in = await client.post(
        "/visits",
        json={"place_id": shop.store["id"], "lat": slat, "lon": slon, "accuracy_m": 10,
              "at": when(60), "client_id": str(uuid.uuid4())},
        headers=h,
    )  # fmt: skip
    assert check_in.status_code == 201, check_in.text
    visit_id = check_in.json()["id"]
    await dispatcher.run(wait=True)
    said = [(x.payload["type"], x.payload["data"]["visit_id"]) for x in receiver.hits]
    assert said == [("visit_started", visit_id), ("visit_ended", visit_id)], said
    assert all(x.verified for x in receiver.hits)
    ended = receiver.hits[1].payload["data"]["details"]
    assert datetime.fromisoformat(ended["departed_at"]) >= start + timedelta(seconds=559)

    # The late batch: the walk out began at 320 s. The visit ends earlier; the store is told.
    walk = [p | {"lat": at(STORE_NORTH + 30 * i)[0]} for i, p in
            enumerate(fixes(when, STORE_NORTH, 320, 12), start=1)]  # fmt: skip
    await upload(client, h, device, locations=walk)
    visit = (await client.get(f"/visits/{visit_id}", headers=h)).json()
    departed = datetime.fromisoformat(visit["departed_at"])
    assert departed < start + timedelta(seconds=400), visit
    assert visit["sightings"] == 5 and set(visit["sources"]) == {
        "geofence", "beacon", "wifi", "manual"
    }  # fmt: skip
    await dispatcher.run(wait=True)
    assert len(receiver.hits) == 3, [x.payload["type"] for x in receiver.hits]
    correction = receiver.hits[2]
    assert correction.verified and correction.payload["type"] == "visit_updated"
    details = correction.payload["data"]["details"]
    assert correction.payload["data"]["visit_id"] == visit_id
    assert details["changed"] == ["departed_at"]
    assert datetime.fromisoformat(details["departed_at"]) == departed
    assert datetime.fromisoformat(details["was"]["departed_at"]) == datetime.fromisoformat(
        ended["departed_at"]
    )
    assert sorted(details["sources"]) == ["beacon", "geofence", "manual", "wifi"]
