"""Places, beacons and Wi-Fi access points through the API, and the GeoJSON places import."""

from __future__ import annotations

import json
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.backend.world import Tenant, errors_for

LAT, LON = 37.5133, 127.1001
IBEACON = "f7826da6-4fa2-4e98-8024-bc5b71e0893e"


@pytest.fixture
async def store(tenant: Tenant) -> dict[str, Any]:
    return await tenant.post(
        "manager", "/places", {"kind": "store", "name": "Lotte", "lat": LAT, "lon": LON}
    )


class TestPlaces:
    async def test_footprint_validation(
        self, client: AsyncTestClient[Litestar], tenant: Tenant
    ) -> None:
        bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
        resp = await client.post(
            "/places",
            json={
                "kind": "apartment_complex",
                "name": "x",
                "lat": 0,
                "lon": 0,
                "footprint": bowtie,
            },
            headers=tenant.h("manager"),
        )
        assert resp.status_code == 422 and errors_for(resp) == ["footprint"]
        assert "Self-intersection" in resp.text

    async def test_household_count_and_kind(
        self, client: AsyncTestClient[Litestar], tenant: Tenant
    ) -> None:
        neg = await client.post(
            "/places",
            json={"kind": "store", "name": "x", "lat": 0, "lon": 0, "household_count": -3},
            headers=tenant.h("manager"),
        )
        assert neg.status_code == 422 and errors_for(neg) == ["household_count"]
        kind = await client.post(
            "/places",
            json={"kind": "castle", "name": "x", "lat": 0, "lon": 0},
            headers=tenant.h("manager"),
        )
        assert kind.status_code == 422 and errors_for(kind) == ["kind"]

    async def test_import_points_and_footprints(
        self, client: AsyncTestClient[Litestar], tenant: Tenant
    ) -> None:
        d = 0.001
        ring = [[LON, LAT], [LON + d, LAT], [LON + d, LAT + d], [LON, LAT + d], [LON, LAT]]
        features = [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [LON, LAT]},
                "properties": {"kind": "store", "name": "Imported store", "external_id": "imp-s1"},
            },
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": {
                    "kind": "apartment_complex",
                    "name": "Imported apt",
                    "household_count": 900,
                    "external_id": "imp-a1",
                },
            },
        ]
        body = json.dumps({"type": "FeatureCollection", "features": features}).encode()
        resp = await client.post("/places/import", content=body, headers=tenant.h("manager"))
        assert resp.status_code == 201, resp.text
        apt = (
            await client.get(
                "/places", params={"external_id": "imp-a1"}, headers=tenant.h("manager")
            )
        ).json()["items"][0]
        assert apt["footprint"]["type"] == "MultiPolygon" and apt["household_count"] == 900
        assert LAT < apt["lat"] < LAT + d and LON < apt["lon"] < LON + d
        again = await client.post("/places/import", content=body, headers=tenant.h("manager"))
        assert again.status_code == 422
        assert {(e["row"], e["field"]) for e in again.json()["errors"]} == {
            (1, "external_id"),
            (2, "external_id"),
        }
        not_fc = await client.post(
            "/places/import", content=b'{"type": "Feature"}', headers=tenant.h("manager")
        )
        assert not_fc.status_code == 422 and errors_for(not_fc) == ["type"]
        not_json = await client.post("/places/import", content=b"{", headers=tenant.h("manager"))
        assert not_json.status_code == 422 and errors_for(not_json) == ["body"]


class TestBeacons:
    async def test_ibeacon_and_eddystone(
        self, client: AsyncTestClient[Litestar], tenant: Tenant, store: dict[str, Any]
    ) -> None:
        ib = await tenant.post(
            "manager",
            "/beacons",
            {
                "place_id": store["id"],
                "protocol": "ibeacon",
                "ibeacon_uuid": IBEACON,
                "major": 7,
                "minor": 1,
                "tx_power": -59,
            },
        )
        assert ib["major"] == 7
        ed = await tenant.post(
            "manager",
            "/beacons",
            {
                "place_id": store["id"],
                "protocol": "eddystone",
                "eddystone_namespace": "EDD1EBEAC04E5DEFA017",
                "eddystone_instance": "0BDB87539B67",
            },
        )
        assert ed["eddystone_namespace"] == "edd1ebeac04e5defa017"
        dup = await client.post(
            "/beacons",
            json={
                "place_id": store["id"],
                "protocol": "ibeacon",
                "ibeacon_uuid": IBEACON,
                "major": 7,
                "minor": 1,
            },
            headers=tenant.h("manager"),
        )
        assert dup.status_code == 409 and errors_for(dup) == ["ibeacon_uuid,major,minor"]
        listed = await client.get(
            "/beacons", params={"place_id": store["id"]}, headers=tenant.h("manager")
        )
        assert {b["id"] for b in listed.json()["items"]} == {ib["id"], ed["id"]}

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"protocol": "ibeacon", "major": 1, "minor": 1}, "ibeacon_uuid"),
            ({"protocol": "ibeacon", "ibeacon_uuid": IBEACON, "major": 70000, "minor": 1}, "major"),
            ({"protocol": "eddystone", "eddystone_namespace": "zz"}, "eddystone_namespace"),
            (
                {"protocol": "eddystone", "eddystone_namespace": "edd1ebeac04e5defa017"},
                "eddystone_instance",
            ),
            ({"protocol": "altbeacon"}, "protocol"),
        ],
    )
    async def test_identity_is_checked(
        self,
        client: AsyncTestClient[Litestar],
        tenant: Tenant,
        store: dict[str, Any],
        body: dict[str, Any],
        field: str,
    ) -> None:
        resp = await client.post(
            "/beacons", json={"place_id": store["id"], **body}, headers=tenant.h("manager")
        )
        assert resp.status_code == 422 and field in errors_for(resp), resp.text

    async def test_deleting_a_place_removes_its_beacons(
        self, client: AsyncTestClient[Litestar], tenant: Tenant, store: dict[str, Any]
    ) -> None:
        b = await tenant.post(
            "manager",
            "/beacons",
            {
                "place_id": store["id"],
                "protocol": "ibeacon",
                "ibeacon_uuid": IBEACON,
                "major": 99,
                "minor": 9,
            },
        )
        assert (
            await client.delete(f"/places/{store['id']}", headers=tenant.h("manager"))
        ).status_code == 204
        assert (
            await client.get(f"/beacons/{b['id']}", headers=tenant.h("manager"))
        ).status_code == 404


class TestWifi:
    async def test_bssid_is_normalized_and_unique(
        self, client: AsyncTestClient[Litestar], tenant: Tenant, store: dict[str, Any]
    ) -> None:
        ap = await tenant.post(
            "manager",
            "/wifi-access-points",
            {"place_id": store["id"], "bssid": "AA-BB-CC-00-11-22", "ssid": "Lotte"},
        )
        assert ap["bssid"] == "aa:bb:cc:00:11:22"
        dup = await client.post(
            "/wifi-access-points",
            json={"place_id": store["id"], "bssid": "aa:bb:cc:00:11:22"},
            headers=tenant.h("manager"),
        )
        assert dup.status_code == 409 and errors_for(dup) == ["bssid"]
        bad = await client.post(
            "/wifi-access-points",
            json={"place_id": store["id"], "bssid": "aa:bb:cc"},
            headers=tenant.h("manager"),
        )
        assert bad.status_code == 422 and errors_for(bad) == ["bssid"]
        found = await client.get(
            "/wifi-access-points", params={"bssid": "AA:BB:CC:00:11:22"}, headers=tenant.h("agent")
        )
        assert [a["id"] for a in found.json()["items"]] == [ap["id"]]
