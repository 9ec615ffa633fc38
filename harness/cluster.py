"""What the benchmarks and the tests that run their own clusters share: one URL for a primary
and its standby, agents with a phone each made through the API, the points a database holds,
and a time zone whose evening it is (when the nightly plan runs)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from backend.embedded_db import EmbeddedPostgres


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
