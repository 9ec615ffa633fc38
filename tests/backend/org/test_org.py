"""The org tree, users, devices and store apps: who may manage whom, and login."""

from __future__ import annotations

import time

import jwt
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.backend.world import PASSWORD, Tenant, auth, errors_for
from tests.conftest import TEST_SECRET


class TestOrgUnits:
    async def test_kinds_nest_in_order(
        self, client: AsyncTestClient[Litestar], tenant: Tenant
    ) -> None:
        h = tenant.h("admin")
        bad = await client.post(
            "/org-units",
            json={"name": "x", "kind": "region", "parent_id": str(tenant.units["T1"])},
            headers=h,
        )
        assert bad.status_code == 422 and errors_for(bad) == ["kind"]
        root = await client.post("/org-units", json={"name": "x", "kind": "team"}, headers=h)
        assert root.status_code == 422 and errors_for(root) == ["parent_id"]
        team = await tenant.post(
            "manager",
            "/org-units",
            {"name": "New team", "kind": "team", "parent_id": str(tenant.units["B1"])},
        )
        assert team["path"] == [str(tenant.units[u]) for u in ("HQ", "R1", "B1")] + [team["id"]]

    async def test_manager_stays_in_their_subtree(
        self, client: AsyncTestClient[Litestar], tenant: Tenant
    ) -> None:
        h = tenant.h("manager")
        other = await client.post(
            "/org-units",
            json={"name": "x", "kind": "team", "parent_id": str(tenant.units["B2"])},
            headers=h,
        )
        assert other.status_code == 422 and errors_for(other) == ["parent_id"]
        own = await client.patch(
            f"/org-units/{tenant.units['R1']}", json={"name": "mine"}, headers=h
        )
        assert own.status_code == 403
        ancestors = await client.get("/org-units", headers=h)
        names = {u["name"] for u in ancestors.json()["items"]}
        assert {"HQ", "R1", "B1", "T1"} <= names and not names & {"R2", "B2", "T2"}

    async def test_unit_with_people_cannot_be_deleted(
        self, client: AsyncTestClient[Litestar], tenant: Tenant
    ) -> None:
        resp = await client.delete(f"/org-units/{tenant.units['T1']}", headers=tenant.h("admin"))
        assert resp.status_code == 409, resp.text
        assert (
            await client.get(f"/org-units/{tenant.units['T1']}", headers=tenant.h("admin"))
        ).status_code == 200
        empty = await tenant.post(
            "admin",
            "/org-units",
            {"name": "Empty", "kind": "team", "parent_id": str(tenant.units["B2"])},
        )
        assert (
            await client.delete(f"/org-units/{empty['id']}", headers=tenant.h("admin"))
        ).status_code == 204


class TestUsers:
    async def test_manager_cannot_grant_admin(
        self, client: AsyncTestClient[Litestar], tenant: Tenant
    ) -> None:
        body = {
            "email": "boss@x.test",
            "name": "b",
            "role": "admin",
            "org_unit_id": str(tenant.units["T1"]),
            "password": PASSWORD,
        }
        assert (
            await client.post("/users", json=body, headers=tenant.h("manager"))
        ).status_code == 403
        promote = await client.patch(
            f"/users/{tenant.users['agent']}", json={"role": "admin"}, headers=tenant.h("manager")
        )
        assert promote.status_code == 403

    async def test_duplicate_email_is_409(
        self, client: AsyncTestClient[Litestar], tenant: Tenant
    ) -> None:
        body = {
            "email": f"AGENT@{tenant.slug}.test",
            "name": "again",
            "org_unit_id": str(tenant.units["T1"]),
            "password": PASSWORD,
        }
        resp = await client.post("/users", json=body, headers=tenant.h("admin"))
        assert resp.status_code == 409 and errors_for(resp) == ["email"]

    async def test_password_is_never_returned(
        self, client: AsyncTestClient[Litestar], tenant: Tenant
    ) -> None:
        resp = await client.get(f"/users/{tenant.users['agent']}", headers=tenant.h("agent"))
        assert resp.status_code == 200
        assert "password" not in resp.text and "argon2" not in resp.text

    async def test_deactivated_user_is_locked_out_at_once(
        self, client: AsyncTestClient[Litestar], tenant: Tenant
    ) -> None:
        email = f"temp@{tenant.slug}.test"
        user = await tenant.post(
            "admin",
            "/users",
            {
                "email": email,
                "name": "t",
                "org_unit_id": str(tenant.units["T1"]),
                "password": PASSWORD,
            },
        )
        token = await tenant.login(email)
        assert (await client.get("/auth/me", headers=auth(token))).status_code == 200
        off = await client.patch(
            f"/users/{user['id']}", json={"active": False}, headers=tenant.h("admin")
        )
        assert off.status_code == 200
        assert (await client.get("/auth/me", headers=auth(token))).status_code == 401
        login = await client.post(
            "/auth/login", json={"tenant": tenant.slug, "email": email, "password": PASSWORD}
        )
        assert login.status_code == 401


class TestLastAdmin:
    async def test_the_last_admin_is_not_demoted_deactivated_or_deleted(
        self, client: AsyncTestClient[Litestar], other_tenant: Tenant
    ) -> None:
        t = other_tenant
        me = f"/users/{t.users['admin']}"
        for body, field in (({"role": "manager"}, "role"), ({"active": False}, "active")):
            resp = await client.patch(me, json=body, headers=t.h("admin"))
            assert resp.status_code == 409, resp.text
            assert errors_for(resp) == [field]
        assert (await client.delete(me, headers=t.h("admin"))).status_code == 409
        # With a second admin, the first may step down.
        second = await t.post(
            "admin",
            "/users",
            {
                "email": f"admin2@{t.slug}.test",
                "name": "admin2",
                "role": "admin",
                "org_unit_id": str(t.units["HQ"]),
                "password": PASSWORD,
            },
        )
        resp = await client.patch(
            f"/users/{second['id']}", json={"role": "manager"}, headers=t.h("admin")
        )
        assert resp.status_code == 200, resp.text
        assert (await client.get(me, headers=t.h("admin"))).status_code == 200


class TestLogin:
    async def test_wrong_password_tenant_or_email(
        self, client: AsyncTestClient[Litestar], tenant: Tenant, other_tenant: Tenant
    ) -> None:
        email = f"agent@{tenant.slug}.test"
        for body in (
            {"tenant": tenant.slug, "email": email, "password": "wrong-password"},
            {"tenant": other_tenant.slug, "email": email, "password": PASSWORD},
            {"tenant": tenant.slug, "email": "nobody@x.test", "password": PASSWORD},
        ):
            resp = await client.post("/auth/login", json=body)
            assert resp.status_code == 401, body
        ok = await client.post(
            "/auth/login",
            json={"tenant": tenant.slug, "email": email.upper(), "password": PASSWORD},
        )
        assert ok.status_code == 200
        me = await client.get("/auth/me", headers=auth(ok.json()["access_token"]))
        assert me.json()["role"] == "agent" and me.json()["org_unit_id"] == str(tenant.units["T1"])

    async def test_a_token_of_another_secret_is_refused(
        self, client: AsyncTestClient[Litestar], tenant: Tenant
    ) -> None:
        now = int(time.time())
        claims = {"sub": str(tenant.users["admin"]), "iat": now, "extras": {"tid": str(tenant.id)}}
        forged = jwt.encode(
            claims | {"exp": now + 60}, "not-the-secret-" + "y" * 32, algorithm="HS256"
        )
        assert (await client.get("/auth/me", headers=auth(forged))).status_code == 401
        expired = jwt.encode(
            claims | {"exp": now - 120, "iat": now - 600}, TEST_SECRET, algorithm="HS256"
        )
        assert (await client.get("/auth/me", headers=auth(expired))).status_code == 401
        good = jwt.encode(claims | {"exp": now + 60}, TEST_SECRET, algorithm="HS256")
        assert (await client.get("/auth/me", headers=auth(good))).status_code == 200


class TestDevices:
    async def test_agent_requests_and_revokes_own_device(
        self, client: AsyncTestClient[Litestar], tenant: Tenant
    ) -> None:
        device = await tenant.post(
            "agent", "/devices", {"name": "Galaxy", "identifier": f"{tenant.slug}-galaxy"}
        )
        assert device["user_id"] == str(tenant.users["agent"]) and device["revoked_at"] is None
        # An agent's registration is a request: the phone sends nothing until approved.
        assert device["status"] == "requested" and device["approved_at"] is None
        upload = {
            "device_id": device["id"],
            "points": [{"t": "2026-12-01T01:00:00Z", "lat": 37.5, "lon": 127.0, "accuracy_m": 5}],
        }
        waiting = await client.post("/ingest/locations", json=upload, headers=tenant.h("agent"))
        assert waiting.status_code == 403, waiting.text
        self_approved = await client.patch(
            f"/devices/{device['id']}", json={"approved": True}, headers=tenant.h("agent")
        )
        assert self_approved.status_code == 403 and errors_for(self_approved) == ["approved"]
        approved = await client.patch(
            f"/devices/{device['id']}", json={"approved": True}, headers=tenant.h("manager")
        )
        assert approved.status_code == 200 and approved.json()["status"] == "active"
        revoked = await client.patch(
            f"/devices/{device['id']}", json={"revoked": True}, headers=tenant.h("agent")
        )
        assert revoked.json()["revoked_at"] is not None and revoked.json()["status"] == "revoked"
        for_other = await client.post(
            "/devices",
            json={"name": "x", "identifier": "x-1", "user_id": str(tenant.users["agent2"])},
            headers=tenant.h("agent"),
        )
        assert for_other.status_code == 403 and errors_for(for_other) == ["user_id"]

    async def test_agent_cannot_undo_an_admins_revocation(
        self, client: AsyncTestClient[Litestar], tenant: Tenant
    ) -> None:
        stolen = await tenant.device("agent", "stolen")
        assert stolen["status"] == "active"
        url = f"/devices/{stolen['id']}"
        assert (
            await client.patch(url, json={"revoked": True}, headers=tenant.h("admin"))
        ).status_code == 200
        undo = await client.patch(url, json={"revoked": False}, headers=tenant.h("agent"))
        assert undo.status_code == 403 and errors_for(undo) == ["revoked"]
        # Nor by a value that only looks like false.
        sly = await client.patch(url, json={"revoked": 0}, headers=tenant.h("agent"))
        assert sly.status_code == 422 and errors_for(sly) == ["revoked"]
        null = await client.patch(url, json={"revoked": None}, headers=tenant.h("agent"))
        assert null.status_code == 200 and null.json()["status"] == "revoked", null.text
        after = await client.get(url, headers=tenant.h("admin"))
        assert after.json()["status"] == "revoked"
        again = await client.patch(url, json={"revoked": False}, headers=tenant.h("admin"))
        assert again.status_code == 200 and again.json()["status"] == "active"
        dup = await client.post(
            "/devices",
            json={"name": "again", "identifier": f"{tenant.slug}-galaxy"},
            headers=tenant.h("agent"),
        )
        assert dup.status_code == 409 and errors_for(dup) == ["identifier"]


class TestStoreApps:
    async def test_key_rotation(self, client: AsyncTestClient[Litestar], tenant: Tenant) -> None:
        store = await tenant.post(
            "manager",
            "/places",
            {
                "kind": "store",
                "name": "Shop",
                "lat": 37.5,
                "lon": 127.0,
                "org_unit_id": str(tenant.units["B1"]),
            },
        )
        app = await tenant.post(
            "manager", "/store-apps", {"name": "POS", "store_ids": [store["id"]]}
        )
        old = {"X-API-Key": app["api_key"]}
        assert (await client.get(f"/places/{store['id']}", headers=old)).status_code == 200
        listed = await client.get("/store-apps", headers=tenant.h("manager"))
        assert all(a["api_key"] is None for a in listed.json()["items"])
        rotated = await client.post(
            f"/store-apps/{app['id']}/rotate-key", headers=tenant.h("manager")
        )
        assert rotated.status_code == 200
        new = {"X-API-Key": rotated.json()["api_key"]}
        assert (await client.get(f"/places/{store['id']}", headers=old)).status_code == 401
        assert (await client.get(f"/places/{store['id']}", headers=new)).status_code == 200
        await client.patch(
            f"/store-apps/{app['id']}", json={"revoked": True}, headers=tenant.h("manager")
        )
        assert (await client.get(f"/places/{store['id']}", headers=new)).status_code == 401

    async def test_only_stores_may_be_scoped(
        self, client: AsyncTestClient[Litestar], tenant: Tenant
    ) -> None:
        apt = await tenant.post(
            "manager",
            "/places",
            {"kind": "apartment_complex", "name": "Apt", "lat": 37.5, "lon": 127.0},
        )
        resp = await client.post(
            "/store-apps", json={"name": "x", "store_ids": [apt["id"]]}, headers=tenant.h("manager")
        )
        assert resp.status_code == 422 and errors_for(resp) == ["store_ids.0"]
