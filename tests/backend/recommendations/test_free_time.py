"""'I have N free minutes here' on real PostGIS: fit to the minute, exclusions, reasons."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio

from backend.recommendations.services import pool_size
from routing.travel import GeoPoint, HaversineTravel, TravelMode
from tests.backend.world import Tenant, errors_for, offset

LAT, LON = 37.50, 127.03
# A Wednesday at 10:00 UTC: one hour of the day, so the speed factor is the same whatever the
# free time (under an hour).
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def near(north_m: float, east_m: float) -> dict[str, float]:
    return offset(LAT, LON, north_m, east_m)


class Shop:
    def __init__(self, tenant: Tenant) -> None:
        self.t = tenant
        self.ids: dict[str, str] = {}

    async def add(self, key: str, north: float, east: float, **extra: Any) -> str:
        body = {
            "name": key,
            **near(north, east),
            "org_unit_id": str(self.t.units["T1"]),
            "assigned_agent_id": str(self.t.users["agent"]),
            "status": "prospect",
            **extra,
        }
        row = await self.t.post("admin", "/customers", body)
        self.ids[key] = str(row["id"])
        return self.ids[key]


@pytest_asyncio.fixture(scope="module")
async def shop(tenant: Tenant) -> Shop:
    s = Shop(tenant)
    await s.add("target", 0, 2500)
    await s.add("close", 0, 300, life_stage="young_family", value=80000)
    await s.add("never", 100, 100, do_not_visit=True)
    await s.add("seen", -100, 100)
    await s.add(
        "evening",
        200,
        0,
        preferred_hours=[{"days": [0, 1, 2, 3, 4], "start": "18:00", "end": "20:00"}],
    )
    await s.add(
        "morning", -200, 0, preferred_hours=[{"days": [2], "start": "10:20", "end": "11:00"}]
    )
    await s.add("theirs", 50, 50, assigned_agent_id=str(tenant.users["agent2"]))
    await s.add("pool", 60, -60, assigned_agent_id=None)
    await s.add("long_ago", -60, -60)
    await tenant.post(
        "agent",
        "/visits",
        {
            "customer_id": s.ids["seen"],
            **near(-100, 100),
            "accuracy_m": 10,
            "at": (NOW - timedelta(days=2)).isoformat(),
        },
    )
    await tenant.post(
        "agent",
        "/visits",
        {
            "customer_id": s.ids["long_ago"],
            **near(-60, -60),
            "accuracy_m": 10,
            "at": (NOW - timedelta(days=20)).isoformat(),
        },
    )
    return s


async def ask(tenant: Tenant, who: str, body: dict[str, Any]) -> Any:
    return await tenant.client.post("/recommendations/free-time", json=body, headers=tenant.h(who))


class TestFit:
    async def test_fits_by_under_a_minute_and_misses_by_under_a_minute(
        self, tenant: Tenant, shop: Shop
    ) -> None:
        here, nxt = GeoPoint(LAT, LON), GeoPoint(**near(0, 5000))
        target = GeoPoint(**near(0, 2500))
        travel = HaversineTravel()
        end = NOW + timedelta(minutes=50)
        there = travel.legs([here], [target], TravelMode.CAR, NOW, end)[0]
        onward = travel.legs([target], [nxt], TravelMode.CAR, NOW, end)[0]
        needed = there + 20 * 60 + onward
        body = {
            "position": {"lat": LAT, "lon": LON},
            "next": near(0, 5000),
            "at": NOW.isoformat(),
            "service_min": 20,
            "mode": "car",
            "limit": 100,
        }
        fits = (await ask(tenant, "agent", {**body, "free_minutes": math.ceil(needed / 60)})).json()
        item = next(i for i in fits["items"] if i["customer_id"] == shop.ids["target"])
        assert item["travel_s"] == there and item["onward_s"] == onward
        assert 0 <= item["spare_s"] < 60
        misses = (
            await ask(tenant, "agent", {**body, "free_minutes": math.ceil(needed / 60) - 1})
        ).json()
        assert shop.ids["target"] not in {i["customer_id"] for i in misses["items"]}

    async def test_exclusions_reasons_and_ranking(self, tenant: Tenant, shop: Shop) -> None:
        body = {
            "position": {"lat": LAT, "lon": LON},
            "at": NOW.isoformat(),
            "free_minutes": 55,
            "limit": 100,
        }
        result = (await ask(tenant, "agent", body)).json()
        got = {i["customer_id"]: i for i in result["items"]}
        ids = shop.ids
        assert ids["close"] in got and ids["pool"] in got
        assert ids["long_ago"] in got  # visited 20 days ago: suggested again
        for excluded in ("never", "seen", "evening", "theirs"):
            assert ids[excluded] not in got, excluded
        # The morning customer's window opens at 10:20: the visit waits for it and still fits.
        morning = got[ids["morning"]]
        assert any("from 10:20" in r for r in morning["reasons"])
        close = got[ids["close"]]
        assert "prospect" in close["reasons"]
        assert "never contacted" in close["reasons"]
        assert "segment: young_family" in close["reasons"]
        assert any(r.startswith("high value") for r in close["reasons"])
        ranks = [i["value_per_min"] for i in result["items"]]
        assert ranks == sorted(ranks, reverse=True)
        assert result["items"][0]["customer_id"] == ids["close"]
        # Every suggestion, checked independently, fits the free time.
        for i in result["items"]:
            assert i["travel_s"] + i["service_s"] + i["onward_s"] <= 55 * 60

    async def test_manager_asks_for_an_agent_and_limits(self, tenant: Tenant, shop: Shop) -> None:
        body = {
            "agent_id": str(tenant.users["agent"]),
            "position": {"lat": LAT, "lon": LON},
            "until": (NOW + timedelta(minutes=40)).isoformat(),
            "at": NOW.isoformat(),
            "limit": 2,
        }
        resp = await ask(tenant, "manager", body)
        assert resp.status_code == 200, resp.text
        assert len(resp.json()["items"]) == 2
        assert resp.json()["free_s"] == 40 * 60

    async def test_too_little_time_is_an_empty_answer(self, tenant: Tenant, shop: Shop) -> None:
        body = {"position": {"lat": LAT, "lon": LON}, "free_minutes": 10, "service_min": 30}
        resp = await ask(tenant, "agent", body)
        assert resp.status_code == 200
        assert resp.json()["items"] == []


class TestBadInput:
    @pytest.mark.parametrize(
        ("who", "patch", "field"),
        [
            ("agent", {"free_minutes": -5}, "free_minutes"),
            ("agent", {"free_minutes": 2000}, "free_minutes"),
            ("agent", {"position": {"lat": 100, "lon": 0}}, "position.lat"),
            ("agent", {"until": (NOW + timedelta(minutes=5)).isoformat()}, "until"),
            (
                "agent",
                {"free_minutes": None, "until": (NOW - timedelta(minutes=5)).isoformat()},
                "until",
            ),
            ("agent", {"free_minutes": None}, "free_minutes"),
            ("manager", {}, "agent_id"),
            ("agent", {"agent_id": "AGENT2"}, "agent_id"),
        ],
    )
    async def test_named_field(
        self, tenant: Tenant, shop: Shop, who: str, patch: dict[str, Any], field: str
    ) -> None:
        body: dict[str, Any] = {
            "position": {"lat": LAT, "lon": LON},
            "at": NOW.isoformat(),
            "free_minutes": 30,
        }
        body.update(patch)
        if body.get("agent_id") == "AGENT2":
            body["agent_id"] = str(tenant.users["agent2"])
        body = {k: v for k, v in body.items() if v is not None}
        resp = await ask(tenant, who, body)
        assert resp.status_code == 422, resp.text
        assert field in errors_for(resp), resp.text

    async def test_store_apps_and_anonymous_are_kept_out(self, tenant: Tenant, shop: Shop) -> None:
        body = {"position": {"lat": LAT, "lon": LON}, "free_minutes": 30}
        assert (
            await tenant.client.post("/recommendations/free-time", json=body)
        ).status_code == 401
        store = await tenant.post(
            "manager",
            "/places",
            {"kind": "store", "name": "Shop", **near(0, 0), "org_unit_id": str(tenant.units["B1"])},
        )
        app = await tenant.post(
            "manager", "/store-apps", {"name": "POS", "store_ids": [store["id"]]}
        )
        resp = await tenant.client.post(
            "/recommendations/free-time", json=body, headers={"X-API-Key": app["api_key"]}
        )
        assert resp.status_code == 403


async def test_a_shorter_list_is_the_head_of_the_longer_one(tenant: Tenant, shop: Shop) -> None:
    """Only the best `limit` are ranked in full (ties at the cut kept): the order must be the
    one a full sort gives."""
    body = {"position": {"lat": LAT, "lon": LON}, "free_minutes": 90, "at": NOW.isoformat()}
    full = (await ask(tenant, "agent", {**body, "limit": 100})).json()["items"]
    assert len(full) >= 5
    for limit in (1, 2, 3, 4):
        head = (await ask(tenant, "agent", {**body, "limit": limit})).json()["items"]
        assert head == full[:limit]


@pytest.mark.parametrize(("limit", "pool"), [(1, 50), (10, 50), (20, 80), (21, 120), (100, 400)])
def test_candidate_pool_grows_with_the_suggestions_asked_for(limit: int, pool: int) -> None:
    assert pool_size(limit) == pool


async def test_when_too_few_of_the_nearest_fit_it_looks_farther(tenant: Tenant) -> None:
    """Sixty customers next to the agent all want evening visits; one 500 m away has no
    preference. Asked for 5 (a pool of the nearest 50), the answer still finds that one."""
    shop = Shop(tenant)
    north = 20_000.0  # away from the other tests' customers
    evening = [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "18:00", "end": "20:00"}]
    for i in range(60):
        angle = 2 * math.pi * i / 60
        r = 20 + i
        await shop.add(
            f"evening{i}",
            north + r * math.cos(angle),
            r * math.sin(angle),
            preferred_hours=evening,
        )
    far = await shop.add("any_time", north + 500, 0)
    body = {
        "position": near(north, 0),
        "free_minutes": 60,
        "at": NOW.isoformat(),
        "mode": "walk",
        "limit": 5,
    }
    resp = await ask(tenant, "agent", body)
    assert resp.status_code == 200, resp.text
    got = resp.json()
    assert [i["customer_id"] for i in got["items"]] == [far]
    assert got["considered"] > 50
