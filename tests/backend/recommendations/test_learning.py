"""The learning loop: recorded outcomes move a segment's conversion, and the ranking with it."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from backend.recommendations.learning import learn_from_outcomes
from tests.backend.world import Tenant, offset

LAT, LON = 37.45, 126.95
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def near(north_m: float, east_m: float) -> dict[str, float]:
    return offset(LAT, LON, north_m, east_m)


async def customer(tenant: Tenant, name: str, north: float, **extra: Any) -> str:
    body = {
        "name": name,
        **near(north, 0),
        "org_unit_id": str(tenant.units["T1"]),
        "assigned_agent_id": str(tenant.users["agent"]),
        "status": "prospect",
        **extra,
    }
    return str((await tenant.post("admin", "/customers", body))["id"])


async def learned(tenant: Tenant) -> dict[str, Any]:
    resp = await tenant.client.get("/recommendations/learned", headers=tenant.h("manager"))
    assert resp.status_code == 200, resp.text
    return {row["segment"]: row for row in resp.json()}


async def test_outcomes_move_a_segment_and_stay_explainable(
    tenant: Tenant, engine: AsyncEngine
) -> None:
    # Two equally scored prospects, the same distance away, in two segments.
    young = await customer(tenant, "young", 400, life_stage="young_family")
    retired = await customer(tenant, "retired", -400, life_stage="retired")
    body = {"position": near(0, 0), "free_minutes": 50, "at": NOW.isoformat(), "limit": 50}

    async def rank() -> dict[str, Any]:
        resp = await tenant.client.post(
            "/recommendations/free-time", json=body, headers=tenant.h("agent")
        )
        assert resp.status_code == 200, resp.text
        return {i["customer_id"]: i for i in resp.json()["items"]}

    before = await rank()
    assert before[young]["score"] == before[retired]["score"]

    # Earlier visits to other customers of those segments, with their outcomes recorded.
    outcomes = {
        "young_family": ["sale", "appointment_set", "sale", "met"],
        "retired": ["declined", "declined", "met", "not_home"],
    }
    for segment, results in outcomes.items():
        for k, outcome in enumerate(results):
            other = await customer(tenant, f"{segment}-{k}", 5000 + 100 * k, life_stage=segment)
            visit = await tenant.post(
                "agent",
                "/visits",
                {
                    "customer_id": other,
                    **near(5000, 0),
                    "accuracy_m": 10,
                    "at": (NOW - timedelta(days=30)).isoformat(),
                },
            )
            resp = await tenant.client.patch(
                f"/visits/{visit['id']}", json={"outcome": outcome}, headers=tenant.h("agent")
            )
            assert resp.status_code == 200, resp.text

    assert "young_family" not in await learned(tenant)  # not recounted yet
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        await learn_from_outcomes(session, datetime.now(UTC))
    table = await learned(tenant)
    y, r = table["young_family"], table["retired"]
    assert (y["talks"], y["conversions"], y["not_home"]) == (4, 3, 0)
    assert (r["talks"], r["conversions"], r["not_home"]) == (3, 0, 1)
    assert math.isclose(y["rate"], (3 + 2) / (4 + 10))
    assert math.isclose(r["rate"], 2 / 13)
    assert y["factor"] > 1 > r["factor"]
    assert y["prior_rate"] == 0.2

    after = await rank()
    assert after[young]["score"] > before[young]["score"]
    assert after[retired]["score"] < before[retired]["score"]
    assert any("3 of 4 conversations converted" in reason for reason in after[young]["reasons"])
