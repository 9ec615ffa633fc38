"""Builds tenants with an org tree, users and tokens through the real API, for tests."""

from __future__ import annotations

import itertools
import math
import uuid
from dataclasses import dataclass, field
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from backend.tenants.services import create_tenant

PASSWORD = "correct-horse-battery"
_seq = itertools.count(1)


def offset(lat: float, lon: float, north_m: float, east_m: float) -> dict[str, float]:
    """A point `north_m` north and `east_m` east of (lat, lon), as API {lat, lon}."""
    return {
        "lat": lat + north_m / 111_195,
        "lon": lon + east_m / (111_195 * math.cos(math.radians(lat))),
    }


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def ok(resp: Any, status: int = 201) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json()


@dataclass
class Tenant:
    """One tenant: HQ -> R1 -> B1 -> T1 and HQ -> R2 -> B2 -> T2, with people in them."""

    client: AsyncTestClient[Litestar]
    slug: str
    id: uuid.UUID
    units: dict[str, uuid.UUID] = field(default_factory=dict)
    users: dict[str, uuid.UUID] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def h(self, who: str) -> dict[str, str]:
        return auth(self.tokens[who])

    async def post(self, who: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        data: dict[str, Any] = await ok(
            await self.client.post(path, json=body, headers=self.h(who))
        )
        return data

    async def device(self, who: str = "agent", name: str = "phone") -> dict[str, Any]:
        """A device of `who`, registered by the admin (an agent's own request waits for
        approval)."""
        return await self.post(
            "admin",
            "/devices",
            {"name": name, "identifier": str(uuid.uuid4()), "user_id": str(self.users[who])},
        )

    async def login(self, email: str) -> str:
        resp = await self.client.post(
            "/auth/login", json={"tenant": self.slug, "email": email, "password": PASSWORD}
        )
        token: str = (await ok(resp, 200))["access_token"]
        return token


async def make_tenant(client: AsyncTestClient[Litestar], session: AsyncSession) -> Tenant:
    n = next(_seq)
    slug = f"t{n}-{uuid.uuid4().hex[:6]}"
    created = await create_tenant(
        session,
        slug=slug,
        name=f"Tenant {n}",
        admin_email=f"admin@{slug}.test",
        admin_password=PASSWORD,
    )
    await session.commit()
    t = Tenant(client=client, slug=slug, id=created.tenant.id)
    t.units["HQ"] = created.hq.id
    t.users["admin"] = created.admin.id
    t.tokens["admin"] = await t.login(f"admin@{slug}.test")
    for side in ("1", "2"):
        r = await t.post(
            "admin",
            "/org-units",
            {"name": f"R{side}", "kind": "region", "parent_id": str(t.units["HQ"])},
        )
        b = await t.post(
            "admin", "/org-units", {"name": f"B{side}", "kind": "branch", "parent_id": r["id"]}
        )
        tm = await t.post(
            "admin", "/org-units", {"name": f"T{side}", "kind": "team", "parent_id": b["id"]}
        )
        t.units |= {
            f"R{side}": uuid.UUID(r["id"]),
            f"B{side}": uuid.UUID(b["id"]),
            f"T{side}": uuid.UUID(tm["id"]),
        }
    people = {"manager": ("manager", "R1"), "agent": ("agent", "T1"), "agent2": ("agent", "T2")}
    for who, (role, unit) in people.items():
        email = f"{who}@{slug}.test"
        user = await t.post(
            "admin",
            "/users",
            {
                "email": email,
                "name": who,
                "role": role,
                "org_unit_id": str(t.units[unit]),
                "password": PASSWORD,
            },
        )
        t.users[who] = uuid.UUID(user["id"])
        t.tokens[who] = await t.login(email)
    return t


def errors_for(resp: Any) -> list[str]:
    """The fields a 4xx body names."""
    return [e.get("field") for e in resp.json().get("errors", [])]
