"""Plans, re-plans and free-minutes suggestions through the API, on the generated town's roads
(a real osrm-routed), and what the API says when roads are not there."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio

from backend.config import Settings
from backend.roads.server import RoutedServer, _free_port
from backend.roads.services import networks
from routing.roads import OsrmClient, RoadTravel
from routing.travel import TravelMode
from tests.backend.roads.town import LAT0, M_PER_DEG, point
from tests.backend.world import Tenant, errors_for

DAY = datetime.now(UTC).date() + timedelta(days=1)
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)  # a Wednesday at 10:00, hour factor 1.0


def where(x_m: float, y_m: float) -> dict[str, float]:
    lat, lon = point(x_m, y_m)
    return {"lat": lat, "lon": lon}


def x_of(lon: float) -> float:
    return (lon - point(0, 0)[1]) * M_PER_DEG * math.cos(math.radians(LAT0))


PROFILE = {
    "start": where(0, 300),
    "shift_start": "09:00",
    "shift_end": "18:00",
    "mode": "car",
    "timezone": "UTC",
}


@pytest.fixture
def on_roads(town_server: RoutedServer) -> Iterator[None]:
    networks.use(RoadTravel({TravelMode.CAR: OsrmClient(town_server.url)}), "the town")
    try:
        yield
    finally:
        networks.stop()


@pytest.fixture
def roads_down() -> Iterator[None]:
    down = OsrmClient(f"http://127.0.0.1:{_free_port()}")
    networks.use(RoadTravel({TravelMode.CAR: down}), "a server that is down")
    try:
        yield
    finally:
        networks.stop()


class Town:
    def __init__(self, tenant: Tenant) -> None:
        self.t = tenant
        self.ids: dict[str, str] = {}

    async def customer(self, key: str, x: float, y: float, **extra: Any) -> str:
        body = {
            "name": key,
            **where(x, y),
            "org_unit_id": str(self.t.units["T1"]),
            "assigned_agent_id": str(self.t.users["agent"]),
            "status": "prospect",
            **extra,
        }
        self.ids[key] = str((await self.t.post("admin", "/customers", body))["id"])
        return self.ids[key]

    def bank(self, customer_id: str) -> str:
        key = next(k for k, v in self.ids.items() if v == customer_id)
        return key[0]  # "n..." or "s..."


@pytest_asyncio.fixture(scope="module")
async def town(tenant: Tenant) -> Town:
    t = Town(tenant)
    for x in (-300, 0, 300):
        await t.customer(f"n{x}", x, 200)
        await t.customer(f"s{x}", x, -200)
    r = await tenant.client.put(
        f"/agents/{tenant.users['agent']}/profile", json=PROFILE, headers=tenant.h("manager")
    )
    assert r.status_code == 200, r.text
    return t


async def plan_day(tenant: Tenant, must: list[str]) -> dict[str, Any]:
    body = {
        "agent_id": str(tenant.users["agent"]),
        "date": DAY.isoformat(),
        "must_visit": [{"customer_id": c, "service_min": 10} for c in must],
        "prospects": [],
        "time_limit_s": 0.5,
    }
    return await tenant.post("agent", "/plans", body)


class TestPlanOnRoads:
    async def test_customers_are_visited_bank_by_bank_over_a_bridge(
        self, tenant: Tenant, town: Town, on_roads: None
    ) -> None:
        plan = await plan_day(tenant, list(town.ids.values()))
        banks = [town.bank(s["customer_id"]) for s in plan["stops"]]
        assert sorted(banks) == ["n"] * 3 + ["s"] * 3
        # From home on the north bank and back: the river is crossed twice, no more.
        path = ["n", *banks, "n"]
        assert sum(a != b for a, b in itertools.pairwise(path)) == 2, banks
        assert plan["travel"] == "roads" and plan["travel_note"] is None
        # The route is drawn along the streets, over a bridge at one end of the town.
        xs = [x_of(lon) for lon, _ in plan["route"]["coordinates"]]
        assert max(abs(x) for x in xs) > 2900
        # Two crossings of 6 km at 25 km/h: the day's travel says so.
        assert plan["travel_s"] > 2 * 12 * 60
        # The manager's day view draws the same line and knows it came from map data.
        r = await tenant.client.get(
            f"/agents/{tenant.users['agent']}/days/{DAY}", headers=tenant.h("manager")
        )
        assert r.status_code == 200, r.text
        assert r.json()["route_travel"] == "roads"
        assert r.json()["route"]["coordinates"] == plan["route"]["coordinates"]

    async def test_a_replan_stays_on_roads(
        self, tenant: Tenant, town: Town, on_roads: None
    ) -> None:
        plan = await plan_day(tenant, list(town.ids.values()))
        first = plan["stops"][0]["customer_id"]
        r = await tenant.client.post(
            f"/plans/{plan['id']}/replan",
            json={
                "position": where(0, 300),
                "at": datetime(DAY.year, DAY.month, DAY.day, 10, tzinfo=UTC).isoformat(),
                "cancelled": [first],
            },
            headers=tenant.h("agent"),
        )
        assert r.status_code in (200, 201), r.text
        replanned = r.json()
        assert replanned["travel"] == "roads"
        assert first not in {s["customer_id"] for s in replanned["stops"]}

    async def test_a_customer_off_the_map_is_estimated_and_the_plan_says_so(
        self, tenant: Tenant, town: Town, on_roads: None
    ) -> None:
        far = await town.customer("far-north", 0, 8000)  # 8 km north of any street
        plan = await plan_day(tenant, [town.ids["n0"], far])
        assert plan["travel"] == "mixed"
        assert "from any road" in plan["travel_note"]
        assert {s["customer_id"] for s in plan["stops"]} == {town.ids["n0"], far}

    async def test_the_routing_server_down_plans_on_the_straight_line(
        self, tenant: Tenant, town: Town, roads_down: None
    ) -> None:
        plan = await plan_day(tenant, [town.ids["n0"], town.ids["s0"]])
        assert plan["travel"] == "straight_line"
        assert "routing unavailable" in plan["travel_note"]
        assert len(plan["stops"]) == 2


@pytest.fixture
def named_town(town_server: RoutedServer) -> Iterator[None]:
    """The server's default is the straight line; a tenant may choose the town's network."""
    networks.start(
        Settings(
            database_url="", secret="", roads=False, routing_providers={"town": town_server.url}
        )
    )
    try:
        yield
    finally:
        networks.stop()


class TestTenantProvider:
    async def test_a_tenant_plans_on_the_network_it_chose(
        self, tenant: Tenant, town: Town, named_town: None
    ) -> None:
        async def choose(name: str) -> Any:
            return await tenant.client.patch(
                "/tenant/settings", json={"travel_provider": name}, headers=tenant.h("admin")
            )

        bad = await choose("atlantis")
        assert bad.status_code == 422, bad.text
        assert errors_for(bad) == ["travel_provider"] and "town" in bad.text
        plan = await plan_day(tenant, [town.ids["n0"], town.ids["s0"]])
        assert plan["travel"] == "straight_line"  # the server's default
        assert (await choose("town")).status_code == 200
        plan = await plan_day(tenant, [town.ids["n0"], town.ids["s0"]])
        assert plan["travel"] == "roads" and plan["travel_s"] > 2 * 12 * 60
        assert (await choose("")).status_code == 200
        plan = await plan_day(tenant, [town.ids["n0"], town.ids["s0"]])
        assert plan["travel"] == "straight_line"


class TestFreeMinutesOnRoads:
    async def ask(self, tenant: Tenant) -> set[str]:
        body = {
            "position": where(0, 170),
            "at": NOW.isoformat(),
            "free_minutes": 20,
            "service_min": 10,
            "mode": "car",
            "limit": 50,
        }
        r = await tenant.client.post(
            "/recommendations/free-time", json=body, headers=tenant.h("agent")
        )
        assert r.status_code in (200, 201), r.text
        return {i["customer_id"] for i in r.json()["items"]}

    async def test_the_customer_across_the_water_is_not_proposed(
        self, tenant: Tenant, town: Town, on_roads: None
    ) -> None:
        along = await town.customer("n-along", 1200, 200)
        got = await self.ask(tenant)
        assert along in got and town.ids["n0"] in got
        assert not {town.ids[k] for k in ("s-300", "s0", "s300")} & got

    async def test_the_straight_line_would_have_proposed_it(
        self, tenant: Tenant, town: Town
    ) -> None:
        assert town.ids["s0"] in await self.ask(tenant)
