"""Subscriptions: who may make them, what they may target, which events reach them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.app import create_app
from backend.common.egress import TargetPolicy, TargetRefused
from backend.config import Settings
from backend.tracking.announce import VISIT_EVENT_KINDS
from backend.tracking.queries import webhook_events
from backend.webhooks.dispatcher import Dispatcher
from backend.webhooks.schemas import EVENT_TYPES
from geofence.types import Kind
from simulators.receiver import Receiver
from tests.backend.tracking.conftest import at
from tests.backend.tracking.test_silent_job import recent
from tests.backend.world import Tenant, errors_for, ok

LOOPBACK = "http://127.0.0.1:9/hooks"


def test_the_event_types_are_the_engines_kinds_and_the_visits() -> None:
    assert set(EVENT_TYPES) == {str(k) for k in Kind} | set(VISIT_EVENT_KINDS)


async def test_the_ssrf_guard_refuses_internal_targets() -> None:
    strict = TargetPolicy.from_settings(True, [])
    for url in (
        "https://127.0.0.1/x",
        "https://10.1.2.3/x",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/x",
        "https://[::ffff:192.168.0.1]/x",
        "https://localhost/x",
        "https://0.0.0.0/x",
    ):
        with pytest.raises(TargetRefused):
            await strict.check(url)
    with pytest.raises(TargetRefused, match="https"):
        strict.check_url("http://example.com/x")
    with pytest.raises(TargetRefused, match="credentials"):
        strict.check_url("https://user:pw@example.com/x")
    assert await strict.check("https://8.8.8.8/hook") == ["8.8.8.8"]
    loopback_ok = TargetPolicy.from_settings(False, ["127.0.0.0/8"])
    assert await loopback_ok.check("http://127.0.0.1:8080/x") == ["127.0.0.1"]
    with pytest.raises(TargetRefused):
        await loopback_ok.check("http://10.0.0.1/x")


async def test_bad_subscriptions_are_422_naming_the_field(
    client: AsyncTestClient[Litestar], tenant: Tenant
) -> None:
    h = tenant.h("admin")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"url": "http://10.0.0.7/hook", "event_types": ["entered"]}, "url"),
        ({"url": "http://169.254.169.254/", "event_types": ["entered"]}, "url"),
        ({"url": "ftp://127.0.0.1/x", "event_types": ["entered"]}, "url"),
        ({"url": "not a url", "event_types": ["entered"]}, "url"),
        ({"url": LOOPBACK, "event_types": ["teleported"]}, "event_types"),
        ({"url": LOOPBACK, "event_types": []}, "event_types"),
        ({"url": LOOPBACK, "event_types": ["entered"], "batch_size": 0}, "batch_size"),
        (
            {"url": LOOPBACK, "event_types": ["entered"], "place_ids": [str(uuid.uuid4())]},
            "place_ids",
        ),
        (
            {"url": LOOPBACK, "event_types": ["entered"], "fence_ids": [str(uuid.uuid4())]},
            "fence_ids",
        ),
    ]
    for body, field in cases:
        resp = await client.post("/webhooks/subscriptions", json=body, headers=h)
        assert resp.status_code == 422, (body, resp.text)
        assert any(field in (f or "") for f in errors_for(resp)), (body, resp.text)


async def test_https_is_required_when_configured(settings: Settings) -> None:
    strict = Settings(
        database_url=settings.database_url,
        secret=settings.secret,
        jobs=False,
        webhook_require_https=True,
        webhook_allow_networks=("127.0.0.0/8",),
    )
    app = create_app(strict)
    async with AsyncTestClient(app=app) as c:
        resp = await c.post(
            "/auth/login", json={"tenant": "nope", "email": "x@y.z", "password": "x" * 12}
        )
        assert resp.status_code == 401
    # The policy the app built from that configuration:
    with pytest.raises(TargetRefused, match="https"):
        app.state.webhook_policy.check_url(LOOPBACK)


async def test_only_admins_and_store_apps_manage_webhooks(
    client: AsyncTestClient[Litestar], tenant: Tenant, other_tenant: Tenant
) -> None:
    body = {"url": LOOPBACK, "event_types": ["entered"]}
    for who in ("manager", "agent"):
        resp = await client.post("/webhooks/subscriptions", json=body, headers=tenant.h(who))
        assert resp.status_code == 403
    sub = await tenant.post("admin", "/webhooks/subscriptions", body)
    assert sub["secret"].startswith("whsec_")
    listed = await ok(await client.get("/webhooks/subscriptions", headers=tenant.h("admin")), 200)
    assert [s["id"] for s in listed] == [sub["id"]] and "secret" not in listed[0]
    # Another tenant's admin sees nothing of it.
    resp = await client.get(f"/webhooks/subscriptions/{sub['id']}", headers=other_tenant.h("admin"))
    assert resp.status_code == 404
    assert (
        await ok(await client.get("/webhooks/subscriptions", headers=other_tenant.h("admin")), 200)
        == []
    )
    resp = await client.patch(
        f"/webhooks/subscriptions/{sub['id']}", json={"url": None}, headers=tenant.h("admin")
    )
    assert resp.status_code == 422 and "url" in errors_for(resp)
    resp = await client.delete(f"/webhooks/subscriptions/{sub['id']}", headers=tenant.h("admin"))
    assert resp.status_code == 204


async def test_a_store_app_subscribes_to_its_own_stores_only(
    client: AsyncTestClient[Litestar], tenant: Tenant
) -> None:
    mine = await tenant.post(
        "admin", "/places", {"kind": "store", "name": "Mine", "lat": 37.5, "lon": 127.0}
    )
    theirs = await tenant.post(
        "admin", "/places", {"kind": "store", "name": "Theirs", "lat": 37.6, "lon": 127.1}
    )
    app = await tenant.post(
        "admin",
        "/store-apps",
        {"name": "POS", "org_unit_id": str(tenant.units["HQ"]), "store_ids": [mine["id"]]},
    )
    key = {"X-API-Key": app["api_key"]}
    sub = await ok(
        await client.post(
            "/webhooks/subscriptions",
            json={"url": LOOPBACK, "event_types": ["entered"]},
            headers=key,
        )
    )
    assert sub["place_ids"] == [mine["id"]] and sub["store_app_id"] == app["id"]
    resp = await client.post(
        "/webhooks/subscriptions",
        json={"url": LOOPBACK, "event_types": ["entered"], "place_ids": [theirs["id"]]},
        headers=key,
    )
    assert resp.status_code == 422 and "place_ids" in errors_for(resp)
    admin_sub = await tenant.post(
        "admin", "/webhooks/subscriptions", {"url": LOOPBACK, "event_types": ["exited"]}
    )
    listed = await ok(await client.get("/webhooks/subscriptions", headers=key), 200)
    assert [s["id"] for s in listed] == [sub["id"]]
    resp = await client.get(f"/webhooks/subscriptions/{admin_sub['id']}", headers=key)
    assert resp.status_code == 404
    for s in (sub, admin_sub):
        await client.delete(f"/webhooks/subscriptions/{s['id']}", headers=tenant.h("admin"))


async def test_a_visit_detected_from_pings_reaches_the_store_signed(
    client: AsyncTestClient[Litestar], tenant: Tenant, engine: AsyncEngine, settings: Settings
) -> None:
    """Phone pings in over HTTP -> presence -> event + outbox row -> signed POST."""
    lat, lon = at(0, 9000)
    store = await tenant.post(
        "admin", "/places", {"kind": "store", "name": "Walk-in", "lat": lat, "lon": lon}
    )
    fence = await tenant.post(
        "admin",
        "/geofences",
        {
            "name": "Walk-in door",
            "circle": {"lat": lat, "lon": lon, "radius_m": 80},
            "place_id": store["id"],
            "dwell_s": 120,
        },
    )
    other = await tenant.post(
        "admin", "/places", {"kind": "store", "name": "Elsewhere", "lat": 37.0, "lon": 127.0}
    )
    receiver = Receiver().start()
    sub = await tenant.post(
        "admin",
        "/webhooks/subscriptions",
        {"url": receiver.url, "event_types": ["entered", "dwelled"], "place_ids": [store["id"]]},
    )
    receiver.secret = sub["secret"]
    elsewhere = Receiver().start()
    sub2 = await tenant.post(
        "admin",
        "/webhooks/subscriptions",
        {"url": elsewhere.url, "event_types": ["entered"], "place_ids": [other["id"]]},
    )
    dev = await tenant.device("agent", "p")
    pts = []
    for i in range(8):
        p = recent(8 - i, 0)
        p["lat"], p["lon"] = lat, lon
        pts.append(p)
    resp = await client.post(
        "/ingest/locations", json={"device_id": dev["id"], "points": pts}, headers=tenant.h("agent")
    )
    assert resp.status_code == 200, resp.text
    policy = TargetPolicy.from_settings(False, settings.webhook_allow_networks)
    d = Dispatcher(engine, policy, timeout_s=2.0, events=webhook_events())
    try:
        await d.run(datetime.now(UTC), wait=True)
    finally:
        await d.close()
        receiver.stop()
        elsewhere.stop()
    kinds = sorted(h.payload["type"] for h in receiver.hits)
    assert kinds == ["dwelled", "entered"]
    assert all(h.verified for h in receiver.hits)
    entered = next(h for h in receiver.hits if h.payload["type"] == "entered")
    assert entered.payload["data"]["fence_id"] == fence["id"]
    assert entered.payload["data"]["place_id"] == store["id"]
    assert elsewhere.hits == [], "out of its scope"
    for s in (sub, sub2):
        await client.delete(f"/webhooks/subscriptions/{s['id']}", headers=tenant.h("admin"))
