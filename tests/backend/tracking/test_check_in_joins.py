"""One stay, one visit: a manual check-in at a stay already detected joins it, a retried
check-in (same client id) makes nothing new, and only a checked-in visit is checked out."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.backend.tracking.conftest import LAT, LON, Field, recent
from tests.backend.world import errors_for


async def detected_visit(client: AsyncTestClient[Litestar], field: Field, who: str) -> Any:
    """Ten minutes at the office's fence, up to now: its visit, detected and open."""
    device = await field.device(who)
    h = field.tenant.h(who)
    pts = [recent(10 - i) for i in range(11)]
    r = await client.post("/ingest/locations", json={"device_id": device, "points": pts}, headers=h)
    assert r.status_code == 200, r.text
    visits = await client.get(
        "/visits", params={"agent_id": str(field.tenant.users[who])}, headers=h
    )
    found = [v for v in visits.json()["items"] if v["fence_id"] == field.fence["id"]]
    assert len(found) == 1, visits.text
    return found[0]


async def office_place(client: AsyncTestClient[Litestar], field: Field) -> str:
    """The office fence belongs to a place the check-in names (made here if it has none)."""
    if field.fence.get("place_id"):
        return str(field.fence["place_id"])
    place = await field.tenant.post(
        "manager", "/places", {"kind": "workplace", "name": "Kim's office", "lat": LAT, "lon": LON}
    )
    r = await client.patch(
        f"/geofences/{field.fence['id']}",
        json={"place_id": place["id"]},
        headers=field.tenant.h("manager"),
    )
    assert r.status_code == 200, r.text
    field.fence["place_id"] = place["id"]
    return str(place["id"])


class TestCheckInJoinsTheDetectedStay:
    async def test_one_visit_with_both_sources(
        self, client: AsyncTestClient[Litestar], field: Field
    ) -> None:
        place = await office_place(client, field)
        visit = await detected_visit(client, field, "agent")
        assert visit["place_id"] == place and visit["sources"] == ["geofence"]
        h = field.tenant.h("agent")
        body = {
            "place_id": place,
            "lat": LAT,
            "lon": LON,
            "accuracy_m": 15,
            "client_id": str(uuid.uuid4()),
        }
        joined = await client.post("/visits", json=body, headers=h)
        assert joined.status_code == 201, joined.text
        assert joined.json()["id"] == visit["id"]
        assert joined.json()["sources"] == ["geofence", "manual"]
        # The retry of the same check-in (offline, sent again) changes nothing.
        again = await client.post("/visits", json=body, headers=h)
        assert again.json()["id"] == visit["id"] and again.json()["sources"] == [
            "geofence",
            "manual",
        ]
        mine = await client.get(
            "/visits", params={"agent_id": str(field.tenant.users["agent"])}, headers=h
        )
        assert [v["id"] for v in mine.json()["items"] if v["place_id"] == place] == [visit["id"]]
        # Checked in, so it may be checked out: the agent says they are leaving now.
        out = await client.post(
            f"/visits/{visit['id']}/check-out", json={"outcome": "met"}, headers=h
        )
        assert out.status_code == 200, out.text
        assert out.json()["departed_at"] is not None and out.json()["outcome"] == "met"


class TestRetriesAndConflicts:
    async def test_the_same_client_id_is_the_same_check_in(
        self, client: AsyncTestClient[Litestar], field: Field
    ) -> None:
        h = field.tenant.h("agent")
        body = {
            "customer_id": field.customer["id"],
            "lat": field.customer_lat,
            "lon": field.customer_lon,
            "accuracy_m": 10,
            "at": (datetime.now(UTC) - timedelta(days=2)).isoformat(),
            "client_id": str(uuid.uuid4()),
        }
        first = await client.post("/visits", json=body, headers=h)
        second = await client.post("/visits", json=body, headers=h)
        assert first.status_code == second.status_code == 201
        assert first.json()["id"] == second.json()["id"]
        assert first.json()["sources"] == ["manual"]
        elsewhere = await client.post(
            "/visits",
            json={**body, "customer_id": None, "place_id": field.store["id"]},
            headers=h,
        )
        assert elsewhere.status_code == 409 and errors_for(elsewhere) == ["client_id"]

    async def test_a_detected_visit_without_a_check_in_is_not_checked_out(
        self, client: AsyncTestClient[Litestar], field: Field
    ) -> None:
        visit = await detected_visit(client, field, "agent2")
        r = await client.post(
            f"/visits/{visit['id']}/check-out", json={}, headers=field.tenant.h("agent2")
        )
        assert r.status_code == 409 and errors_for(r) == ["id"]
        assert visit["id"] in r.text

    async def test_a_check_in_at_a_customer_out_of_scope_is_not_found(
        self, client: AsyncTestClient[Litestar], field: Field
    ) -> None:
        # The fixture's customer is the first agent's own, not the second's.
        h = field.tenant.h("agent2")
        before = await client.get("/visits", params={"limit": 500}, headers=h)
        r = await client.post(
            "/visits",
            json={"customer_id": field.customer["id"], "lat": field.customer_lat,
                  "lon": field.customer_lon, "accuracy_m": 10,
                  "client_id": str(uuid.uuid4())},
            headers=h,
        )  # fmt: skip
        assert r.status_code == 404 and errors_for(r) == ["customer_id"], r.text
        after = await client.get("/visits", params={"limit": 500}, headers=h)
        assert after.json()["items"] == before.json()["items"]
