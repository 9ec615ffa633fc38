"""Abuse: rate limits (429 with Retry-After), login throttling, token expiry, device
revocation, request size limits. An app with small limits of its own, on the suite's database."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from backend.app import create_app
from backend.auth.ratelimit import Limit, RateLimiter
from backend.auth.security import issue_token
from backend.config import Settings
from tests.backend.world import PASSWORD, Tenant, make_tenant


@pytest_asyncio.fixture(scope="module")
async def strict(settings: Settings) -> AsyncIterator[AsyncTestClient[Litestar]]:
    tight = dataclasses.replace(
        settings,
        rate_device=Limit(per_minute=6, burst=3),
        rate_api_key=Limit(per_minute=6, burst=2),
        login_failures_account=Limit(per_minute=1, burst=3),
        login_failures_address=Limit(per_minute=1, burst=8),
    )
    async with AsyncTestClient(app=create_app(tight)) as c:
        yield c


@pytest_asyncio.fixture(scope="module")
async def world(strict: AsyncTestClient[Litestar], engine: AsyncEngine) -> Tenant:
    async with AsyncSession(engine, expire_on_commit=False) as session:
        return await make_tenant(strict, session)


def upload(device: str) -> dict[str, Any]:
    t = datetime.now(UTC) - timedelta(minutes=5)
    return {
        "device_id": device,
        "points": [
            {
                "client_id": str(uuid.uuid4()),
                "time": t.isoformat(),
                "lat": 37.5,
                "lon": 127.0,
                "accuracy_m": 10,
            }
        ],
    }


def test_the_limiter_refills_at_its_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0])
    limit = Limit(per_minute=60, burst=2)
    assert [limiter.hit("k", limit) for _ in range(3)] == [0.0, 0.0, 1.0]
    now[0] = 1.0
    assert limiter.hit("k", limit) == 0.0 and limiter.hit("k", limit) == 1.0
    assert limiter.hit("other", limit) == 0.0


async def test_a_device_over_its_limit_gets_429(
    strict: AsyncTestClient[Litestar], world: Tenant
) -> None:
    phones = [(await world.device("agent", n))["id"] for n in ("a", "b")]
    h = world.h("agent")
    codes = [
        (await strict.post("/ingest/locations", json=upload(phones[0]), headers=h)).status_code
        for _ in range(4)
    ]
    assert codes == [200, 200, 200, 429]
    resp = await strict.post("/ingest/locations", json=upload(phones[0]), headers=h)
    assert resp.status_code == 429 and int(resp.headers["retry-after"]) >= 1
    assert resp.json()["errors"][0]["field"] == "device_id"
    # The limit is the device's: another phone goes on.
    other = await strict.post("/ingest/locations", json=upload(phones[1]), headers=h)
    assert other.status_code == 200


async def test_a_store_app_key_over_its_limit_gets_429(
    strict: AsyncTestClient[Litestar], world: Tenant
) -> None:
    shop = await world.post(
        "admin", "/places", {"kind": "store", "name": "Shop", "lat": 37.5, "lon": 127.0}
    )
    app = await world.post("admin", "/store-apps", {"name": "POS", "store_ids": [shop["id"]]})
    key = {"X-API-Key": app["api_key"]}
    codes = [(await strict.get("/places", headers=key)).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    resp = await strict.get("/places", headers=key)
    assert resp.status_code == 429 and int(resp.headers["retry-after"]) >= 1
    # The limit is the key's: users of the same tenant go on.
    assert (await strict.get("/places", headers=world.h("admin"))).status_code == 200


async def test_failed_logins_are_throttled(
    strict: AsyncTestClient[Litestar], world: Tenant
) -> None:
    def body(email: str, password: str) -> dict[str, str]:
        return {"tenant": world.slug, "email": email, "password": password}

    agent = f"agent@{world.slug}.test"
    codes = [
        (await strict.post("/auth/login", json=body(agent, "wrong"))).status_code for _ in range(3)
    ]
    assert codes == [401, 401, 401]
    # Over the limit, even the right password is not checked.
    blocked = await strict.post("/auth/login", json=body(agent, PASSWORD))
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) >= 30
    # Another account from the same address still logs in; a success clears its account.
    manager = f"manager@{world.slug}.test"
    assert (await strict.post("/auth/login", json=body(manager, PASSWORD))).status_code == 200
    # The address has its own, larger budget: guessing across accounts runs into it.
    for i in range(5):
        await strict.post("/auth/login", json=body(f"nobody{i}@x.test", "guess"))
    spray = await strict.post("/auth/login", json=body(manager, PASSWORD))
    assert spray.status_code == 429


async def test_expired_tokens_and_revoked_devices_are_refused(
    strict: AsyncTestClient[Litestar], world: Tenant, settings: Settings
) -> None:
    def signed(expires: datetime) -> dict[str, str]:
        # Made by hand: Litestar will not mint a token whose time is over.
        token = jwt.encode(
            {
                "sub": str(world.users["agent"]),
                "exp": int(expires.timestamp()),
                "iat": int((datetime.now(UTC) - timedelta(hours=3)).timestamp()),
                "extras": {"tid": str(world.id)},
            },
            settings.secret,
            algorithm="HS256",
        )
        return {"Authorization": f"Bearer {token}"}

    now = datetime.now(UTC)
    assert (
        await strict.get("/auth/me", headers=signed(now + timedelta(hours=1)))
    ).status_code == 200
    assert (
        await strict.get("/auth/me", headers=signed(now - timedelta(hours=1)))
    ).status_code == 401
    forged = issue_token("not-the-secret-" + "y" * 32, world.users["agent"], world.id, 3600)
    resp = await strict.get("/auth/me", headers={"Authorization": f"Bearer {forged}"})
    assert resp.status_code == 401
    phone = await world.device("agent", "old")
    resp = await strict.post(
        "/ingest/locations", json=upload(phone["id"]), headers=world.h("agent")
    )
    assert resp.status_code == 200
    revoked = await strict.patch(
        f"/devices/{phone['id']}", json={"revoked": True}, headers=world.h("agent")
    )
    assert revoked.status_code == 200
    resp = await strict.post(
        "/ingest/locations", json=upload(phone["id"]), headers=world.h("agent")
    )
    assert resp.status_code == 403 and "revoked" in resp.text


async def test_a_token_accepted_before_is_refused_once_it_expires(
    strict: AsyncTestClient[Litestar], world: Tenant, settings: Settings
) -> None:
    # Verified tokens are remembered (backend/auth/security.py), but only until they expire.
    expires = int((datetime.now(UTC) + timedelta(seconds=2)).timestamp()) + 1
    token = jwt.encode(
        {
            "sub": str(world.users["agent"]),
            "exp": expires,
            "iat": expires - 60,
            "extras": {"tid": str(world.id)},
        },
        settings.secret,
        algorithm="HS256",
    )
    headers = {"Authorization": f"Bearer {token}"}
    assert (await strict.get("/auth/me", headers=headers)).status_code == 200
    assert (await strict.get("/auth/me", headers=headers)).status_code == 200
    await asyncio.sleep(max(0.0, expires - datetime.now(UTC).timestamp()) + 0.2)
    assert (await strict.get("/auth/me", headers=headers)).status_code == 401
    # Signed with another secret, the same claims are refused, remembered or not.
    other = jwt.encode(
        {"sub": str(world.users["agent"]), "exp": expires + 3600, "extras": {"tid": str(world.id)}},
        "another-secret-" + "z" * 32,
        algorithm="HS256",
    )
    resp = await strict.get("/auth/me", headers={"Authorization": f"Bearer {other}"})
    assert resp.status_code == 401


async def test_a_body_over_the_limit_is_413(
    strict: AsyncTestClient[Litestar], world: Tenant
) -> None:
    big = b'{"name": "' + b"x" * 11_000_000 + b'", "lat": 0, "lon": 0}'
    resp = await strict.post(
        "/customers",
        content=big,
        headers=world.h("admin") | {"content-type": "application/json"},
    )
    assert resp.status_code == 413
