"""The demo tenant the quick start serves: seeded once, and an agent's day plans from it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from backend.tenants.demo import DEMO_PASSWORD, DEMO_SLUG, demo_logins, seed_demo


async def test_demo_seeds_once_and_plans_a_day(
    client: AsyncTestClient[Litestar], engine: AsyncEngine
) -> None:
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        demo = await seed_demo(session, n_customers=400)
        assert demo.counts["agent_profiles"] == demo.counts["agents"] == 20
        logins = await demo_logins(session, demo.tenant_id)
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        again = await seed_demo(session, n_customers=400)
        assert again.tenant_id == demo.tenant_id
        assert again.store_api_key is None

    resp = await client.post(
        "/auth/login",
        json={"tenant": DEMO_SLUG, "email": logins["agent"].email, "password": DEMO_PASSWORD},
    )
    assert resp.status_code == 200, resp.text
    headers = {"Authorization": f"Bearer {resp.json()['access_token']}"}
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date()
    resp = await client.post(
        "/plans",
        json={
            "agent_id": str(logins["agent"].id),
            "date": tomorrow.isoformat(),
            "time_limit_s": 0.5,
        },
        headers=headers,
    )
    assert resp.status_code == 201, resp.text
    plan = resp.json()
    assert plan["stops"], plan
    assert plan["lunch"] is not None
    assert all(s["kind"] == "optional" for s in plan["stops"])
