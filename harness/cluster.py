"""What the benchmarks and the tests that run their own clusters share: one URL for a primary
and its standby, agents with a phone each made through the API, the points a database holds,
a time zone whose evening it is (when the nightly plan runs), and agents to plan then."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import asyncpg
import httpx
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from backend.db.models import AgentProfile, Customer, User
from backend.embedded_db import EmbeddedPostgres
from backend.tenants.services import create_tenant

NO_LOGIN = "!"  # a password hash no password matches: seeded agents never log in


def both_hosts(primary: EmbeddedPostgres, standby: EmbeddedPostgres) -> str:
    """One URL naming both servers, for whichever of them takes writes (docs/operations.md,
    "Failover")."""
    u = make_url(primary.url)
    return (
        f"postgresql+asyncpg://{u.username}:{u.password}@/{u.database}"
        f"?host=127.0.0.1:{primary.resolved_port}&host=127.0.0.1:{standby.resolved_port}"
        "&target_session_attrs=read-write"
    )


def agent_phones(
    base: str, slug: str, admin_email: str, password: str, count: int
) -> list[tuple[str, str]]:
    """`count` agents in the admin's unit, each logged in with a phone: (token, device id)."""
    out = []
    domain = admin_email.split("@", 1)[1]
    with httpx.Client(base_url=base, timeout=20) as http:
        login = {"tenant": slug, "email": admin_email, "password": password}
        token = http.post("/auth/login", json=login).json()["access_token"]
        h = {"Authorization": f"Bearer {token}"}
        unit = http.get("/auth/me", headers=h).json()["org_unit_id"]
        for i in range(count):
            email = f"agent{i}@{domain}"
            user = {"email": email, "name": f"agent {i}", "role": "agent", "org_unit_id": unit,
                    "password": password}  # fmt: skip
            created = http.post("/users", json=user, headers=h)
            assert created.status_code == 201, created.text
            agent = http.post("/auth/login", json={**login, "email": email}).json()["access_token"]
            device = {"name": "phone", "identifier": f"p{i}", "user_id": created.json()["id"]}
            made = http.post("/devices", json=device, headers=h)
            assert made.status_code == 201, made.text
            out.append((agent, made.json()["id"]))
    return out


async def stored_points(url: str, devices: list[str]) -> set[str]:
    """The client ids of the points the database at `url` holds for these devices."""
    u = make_url(url)
    conn = await asyncpg.connect(
        host=u.host, port=u.port, user=u.username, password=u.password, database=u.database
    )
    try:
        rows = await conn.fetch(
            "SELECT client_id FROM pings WHERE device_id = ANY($1::uuid[])",
            [uuid.UUID(d) for d in devices],
        )
    finally:
        await conn.close()
    return {str(r["client_id"]) for r in rows}


def evening_zone() -> str:
    """A time zone where it is now between 18:00 and 22:00: the nightly plan's hours."""
    now = datetime.now(UTC)
    for hours in range(-12, 15):
        zone = f"Etc/GMT{'-' if hours > 0 else '+'}{abs(hours)}"  # the Etc sign is inverted
        if 18 <= now.astimezone(ZoneInfo(zone)).hour <= 22:
            return zone
    raise RuntimeError("no zone is in its evening")  # 27 offsets cover every hour


async def agents_to_plan(url: str, slug: str, agents: int, customers_each: int) -> None:
    """A tenant of `agents` agents whose evening it is (the nightly plan plans their
    tomorrow), each with a profile and `customers_each` prospects of their own around their
    start; none of them ever logs in."""
    engine = create_async_engine(url)
    zone = evening_zone()
    try:
        async with AsyncSession(engine) as session, session.begin():
            made = await create_tenant(session, slug=slug, name=slug,
                                       admin_email=f"admin@{slug}.test",
                                       admin_password=secrets.token_urlsafe(16))  # fmt: skip
            for k in range(agents):
                user = User(tenant_id=made.tenant.id, id=uuid.uuid4(), email=f"a{k}@{slug}.test",
                            name=f"agent {k}", role="agent", org_unit_id=made.hq.id,
                            password_hash=NO_LOGIN)  # fmt: skip
                session.add(user)
                await session.flush()
                start = {"lat": 37.45 + (k % 10) / 50, "lon": 126.9 + (k // 10) / 50}
                session.add(AgentProfile(tenant_id=made.tenant.id, user_id=user.id,
                                         settings={"start": start, "timezone": zone}))  # fmt: skip
                for c in range(customers_each):
                    lat, lon = start["lat"] + (c % 7) / 300, start["lon"] + (c // 7) / 300
                    session.add(Customer(tenant_id=made.tenant.id, id=uuid.uuid4(),
                                         org_unit_id=made.hq.id, status="prospect",
                                         name=f"c{k}-{c}", assigned_agent_id=user.id,
                                         location=f"SRID=4326;POINT({lon} {lat})"))  # fmt: skip
    finally:
        await engine.dispose()
