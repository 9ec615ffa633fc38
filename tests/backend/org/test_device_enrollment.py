"""A phone's own credentials (backend/org/enrollment.py): enrolled by a one-time code a
manager issues, a short access token and a refresh token that rotates on every use; a token
used twice revokes its family; a revoked device is refused at once. The app never sends the
agent's password."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.backend.world import Tenant, auth, errors_for, ok


def _fix(lat: float = 37.5665, lon: float = 126.978) -> dict[str, Any]:
    return {
        "client_id": str(uuid.uuid4()),
        "time": datetime.now(UTC).isoformat(),
        "lat": lat,
        "lon": lon,
        "accuracy_m": 10,
    }


async def _enroll(
    client: AsyncTestClient[Litestar], t: Tenant, device: dict[str, Any]
) -> dict[str, Any]:
    issued = await ok(
        await client.post(f"/devices/{device['id']}/enrollment", headers=t.h("manager"))
    )
    assert issued["qr"] == f"fieldsense://enroll?tenant={t.slug}&code={issued['code']}"
    # Typed by hand: lower case, no dashes.
    typed = issued["code"].replace("-", "").lower()
    return dict(
        await ok(
            await client.post("/auth/device/enroll", json={"tenant": t.slug, "code": typed}),
            200,
        )
    )


async def _refresh(client: AsyncTestClient[Litestar], token: str) -> Any:
    return await client.post(
        "/auth/device/token", json={"grant_type": "refresh_token", "refresh_token": token}
    )


async def _upload(client: AsyncTestClient[Litestar], access: str, device_id: str) -> Any:
    return await client.post(
        "/ingest/locations",
        json={"device_id": device_id, "points": [_fix()]},
        headers=auth(access),
    )


async def test_enroll_refresh_rotate_and_reuse_revokes_the_family(
    client: AsyncTestClient[Litestar], tenant: Tenant
) -> None:
    device = await tenant.device("agent", "enrolled phone")
    creds = await _enroll(client, tenant, device)
    assert creds["device_id"] == device["id"] and creds["expires_in"] == 900
    assert creds["user_id"] == str(tenant.users["agent"])
    me = await ok(await client.get("/auth/me", headers=auth(creds["access_token"])), 200)
    assert me["device_id"] == device["id"] and me["role"] == "agent"
    assert (await _upload(client, creds["access_token"], device["id"])).status_code == 200

    first = creds["refresh_token"]
    second = await ok(await _refresh(client, first), 200)
    assert second["refresh_token"] != first and second["access_token"] != creds["access_token"]
    third = await ok(await _refresh(client, second["refresh_token"]), 200)
    assert (await _upload(client, third["access_token"], device["id"])).status_code == 200

    # The first token again: someone else holds a copy. The whole family goes, the newest too.
    replayed = await _refresh(client, first)
    assert replayed.status_code == 401 and errors_for(replayed) == ["refresh_token"]
    assert "already used" in replayed.json()["detail"]
    newest = await _refresh(client, third["refresh_token"])
    assert newest.status_code == 401 and "revoked" in newest.json()["detail"]


async def test_a_revoked_device_is_refused_at_once(
    client: AsyncTestClient[Litestar], tenant: Tenant
) -> None:
    device = await tenant.device("agent", "lost phone")
    creds = await _enroll(client, tenant, device)
    assert (await _upload(client, creds["access_token"], device["id"])).status_code == 200
    await ok(
        await client.patch(
            f"/devices/{device['id']}", json={"revoked": True}, headers=tenant.h("manager")
        ),
        200,
    )
    assert (await _upload(client, creds["access_token"], device["id"])).status_code == 401
    resp = await _refresh(client, creds["refresh_token"])
    assert resp.status_code == 401 and errors_for(resp) == ["refresh_token"]
    # No code for a revoked device either.
    resp = await client.post(f"/devices/{device['id']}/enrollment", headers=tenant.h("manager"))
    assert resp.status_code == 409


async def test_a_device_credential_speaks_for_its_own_device_only(
    client: AsyncTestClient[Litestar], tenant: Tenant
) -> None:
    phone, tablet = await tenant.device("agent", "phone A"), await tenant.device("agent", "tab")
    creds = await _enroll(client, tenant, phone)
    resp = await _upload(client, creds["access_token"], tablet["id"])
    assert resp.status_code == 404


async def test_codes_are_one_time_short_lived_and_issued_by_managers(
    client: AsyncTestClient[Litestar], tenant: Tenant, engine: AsyncEngine
) -> None:
    device = await tenant.device("agent", "new phone")
    path = f"/devices/{device['id']}/enrollment"
    assert (await client.post(path, headers=tenant.h("agent"))).status_code == 403
    other = await tenant.device("agent2", "elsewhere")  # another branch's agent
    assert (
        await client.post(f"/devices/{other['id']}/enrollment", headers=tenant.h("manager"))
    ).status_code == 404

    old = await ok(await client.post(path, headers=tenant.h("manager")))
    code = await ok(await client.post(path, headers=tenant.h("admin")))
    body = {"tenant": tenant.slug, "code": old["code"]}
    resp = await client.post("/auth/device/enroll", json=body)  # replaced by the newer code
    assert resp.status_code == 401 and errors_for(resp) == ["code"]
    assert "expired" in resp.json()["detail"]
    await ok(await client.post("/auth/device/enroll", json={**body, "code": code["code"]}), 200)
    resp = await client.post("/auth/device/enroll", json={**body, "code": code["code"]})
    assert resp.status_code == 401 and "already used" in resp.json()["detail"]

    late = await ok(await client.post(path, headers=tenant.h("manager")))
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE device_enrollments SET expires_at = :t WHERE device_id = :d"),
            {"t": datetime.now(UTC) - timedelta(seconds=1), "d": uuid.UUID(device["id"])},
        )
    resp = await client.post("/auth/device/enroll", json={**body, "code": late["code"]})
    assert resp.status_code == 401 and "expired" in resp.json()["detail"]
    resp = await client.post("/auth/device/enroll", json={"tenant": "nobody", **{"code": "X"}})
    assert resp.status_code == 401 and "unknown" in resp.json()["detail"]
    resp = await _refresh(client, "fsr_not_a_token")
    assert resp.status_code == 401 and "unknown" in resp.json()["detail"]
    resp = await client.post("/auth/device/token", json={"grant_type": "password"})
    assert resp.status_code == 422
