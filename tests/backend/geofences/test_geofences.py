"""Geofences through the API: shapes, validation, links, upsert and the GeoJSON import."""

from __future__ import annotations

import json
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.backend.world import Tenant, errors_for

LON, LAT = 127.0276, 37.4979


def square(lon: float = LON, lat: float = LAT, d: float = 0.001) -> dict[str, Any]:
    ring = [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d]]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


BOWTIE = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}


class TestCreateGeofence:
    async def test_circle_is_stored_as_a_geodesic_buffer(self, tenant: Tenant) -> None:
        fence = await tenant.post(
            "admin",
            "/geofences",
            {"name": "c", "circle": {"lat": LAT, "lon": LON, "radius_m": 100}},
        )
        assert fence["shape"] == "circle"
        assert fence["circle"] == {
            "lat": pytest.approx(LAT),
            "lon": pytest.approx(LON),
            "radius_m": 100,
        }
        ring = fence["geometry"]["coordinates"][0]
        lats = [p[1] for p in ring]
        # 100 m is about 0.0009 degrees of latitude.
        assert max(lats) - LAT == pytest.approx(100 / 111_320, rel=0.02)

    async def test_polygon_roundtrips_as_geojson(self, tenant: Tenant) -> None:
        fence = await tenant.post(
            "admin", "/geofences", {"name": "p", "geometry": square(), "dwell_s": 60}
        )
        assert fence["shape"] == "polygon" and fence["circle"] is None
        assert fence["geometry"]["type"] == "Polygon"
        assert fence["geometry"]["coordinates"][0][0] == pytest.approx(
            square()["coordinates"][0][0]
        )
        assert fence["dwell_s"] == 60 and fence["exit_buffer_m"] == 20.0

    @pytest.mark.parametrize(
        ("body", "field", "text"),
        [
            ({"name": "x", "geometry": BOWTIE}, "geometry", "Self-intersection[0.5 0.5]"),
            (
                {
                    "name": "x",
                    "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1]]]},
                },
                "geometry.coordinates[0]",
                "at least 4",
            ),
            (
                {"name": "x", "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}},
                "geometry.type",
                "Polygon",
            ),
            ({"name": "x", "circle": {"lat": 91, "lon": 0, "radius_m": 10}}, "circle.lat", "90"),
            (
                {"name": "x", "circle": {"lat": 0, "lon": -181, "radius_m": 10}},
                "circle.lon",
                "-180",
            ),
            (
                {"name": "x", "circle": {"lat": 0, "lon": 0, "radius_m": 0}},
                "circle.radius_m",
                "greater",
            ),
            (
                {"name": "x", "circle": {"lat": 0, "lon": 0, "radius_m": 50_001}},
                "circle.radius_m",
                "50000",
            ),
            ({"name": "x"}, "geometry", "exactly one"),
            (
                {"name": "x", "geometry": square(), "circle": {"lat": 0, "lon": 0, "radius_m": 5}},
                "geometry",
                "exactly one",
            ),
            (
                {
                    "name": "x",
                    "geometry": square(),
                    "place_id": "00000000-0000-7000-8000-000000000000",
                },
                "place_id",
                "unknown",
            ),
            ({"name": "x", "geometry": square(), "dwell_s": -1}, "dwell_s", "greater"),
            ({"name": "", "geometry": square()}, "name", "at least 1"),
        ],
    )
    async def test_bad_input_is_422_naming_the_field(
        self,
        client: AsyncTestClient[Litestar],
        tenant: Tenant,
        body: dict[str, Any],
        field: str,
        text: str,
    ) -> None:
        before = await client.get("/geofences", params={"limit": 500}, headers=tenant.h("admin"))
        resp = await client.post("/geofences", json=body, headers=tenant.h("admin"))
        assert resp.status_code == 422, resp.text
        assert field in errors_for(resp)
        assert text in resp.text
        after = await client.get("/geofences", params={"limit": 500}, headers=tenant.h("admin"))
        assert after.json()["items"] == before.json()["items"]

    async def test_link_to_another_tenants_place_is_unknown(
        self, client: AsyncTestClient[Litestar], tenant: Tenant, other_tenant: Tenant
    ) -> None:
        place = await other_tenant.post(
            "admin", "/places", {"kind": "store", "name": "s", "lat": LAT, "lon": LON}
        )
        body = {"name": "x", "geometry": square(), "place_id": place["id"]}
        resp = await client.post("/geofences", json=body, headers=tenant.h("admin"))
        assert resp.status_code == 422 and errors_for(resp) == ["place_id"]

    async def test_duplicate_tag_and_external_id_is_409(
        self, client: AsyncTestClient[Litestar], tenant: Tenant
    ) -> None:
        body = {"name": "a", "geometry": square(), "tag": "store", "external_id": "dup-1"}
        await tenant.post("admin", "/geofences", body)
        resp = await client.post("/geofences", json=body, headers=tenant.h("admin"))
        assert resp.status_code == 409, resp.text
        assert errors_for(resp) == ["tag,external_id"]
        # The same external_id under another tag is a different fence.
        await tenant.post("admin", "/geofences", body | {"tag": "other"})


class TestUpsertGeofence:
    async def test_create_then_replace(
        self, client: AsyncTestClient[Litestar], tenant: Tenant
    ) -> None:
        url = "/geofences/by-key/branch/B-17"
        first = await client.put(
            url, json={"name": "v1", "geometry": square()}, headers=tenant.h("admin")
        )
        assert first.status_code == 201, first.text
        circle = {"lat": LAT, "lon": LON, "radius_m": 40}
        second = await client.put(
            url, json={"name": "v2", "circle": circle}, headers=tenant.h("admin")
        )
        assert second.status_code == 200, second.text
        assert second.json()["id"] == first.json()["id"]
        assert second.json()["name"] == "v2" and second.json()["shape"] == "circle"
        listed = await client.get(
            "/geofences", params={"tag": "branch", "external_id": "B-17"}, headers=tenant.h("admin")
        )
        assert [f["id"] for f in listed.json()["items"]] == [first.json()["id"]]


class TestUpdateAndDeleteGeofence:
    async def test_patch_shape_and_contains_filter(
        self, client: AsyncTestClient[Litestar], tenant: Tenant
    ) -> None:
        far = square(lon=126.5, lat=37.0)
        fence = await tenant.post(
            "admin", "/geofences", {"name": "moving", "geometry": far, "tag": "moving"}
        )
        resp = await client.patch(
            f"/geofences/{fence['id']}",
            json={"geometry": square(d=0.0005)},
            headers=tenant.h("admin"),
        )
        assert resp.status_code == 200, resp.text
        inside = await client.get(
            "/geofences",
            params={"tag": "moving", "contains_lat": LAT, "contains_lon": LON},
            headers=tenant.h("admin"),
        )
        assert [f["id"] for f in inside.json()["items"]] == [fence["id"]]
        outside = await client.get(
            "/geofences",
            params={"tag": "moving", "contains_lat": 37.0, "contains_lon": 126.5},
            headers=tenant.h("admin"),
        )
        assert outside.json()["items"] == []
        bad = await client.patch(
            f"/geofences/{fence['id']}", json={"geometry": BOWTIE}, headers=tenant.h("admin")
        )
        assert bad.status_code == 422
        null_name = await client.patch(
            f"/geofences/{fence['id']}", json={"name": None}, headers=tenant.h("admin")
        )
        assert null_name.status_code == 422 and errors_for(null_name) == ["name"]

    async def test_delete(self, client: AsyncTestClient[Litestar], tenant: Tenant) -> None:
        fence = await tenant.post("admin", "/geofences", {"name": "gone", "geometry": square()})
        assert (
            await client.delete(f"/geofences/{fence['id']}", headers=tenant.h("admin"))
        ).status_code == 204
        assert (
            await client.get(f"/geofences/{fence['id']}", headers=tenant.h("admin"))
        ).status_code == 404


class TestImportGeofences:
    @staticmethod
    def collection(features: list[dict[str, Any]]) -> bytes:
        return json.dumps({"type": "FeatureCollection", "features": features}).encode()

    async def test_bad_features_reject_the_whole_file(
        self, client: AsyncTestClient[Litestar], tenant: Tenant
    ) -> None:
        features = [
            {
                "type": "Feature",
                "geometry": square(),
                "properties": {"name": "ok", "tag": "imp", "external_id": "1"},
            },
            {"type": "Feature", "geometry": BOWTIE, "properties": {"name": "bowtie"}},
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [LON, LAT]},
                "properties": {"name": "no radius"},
            },
            {"type": "Feature", "geometry": square(), "properties": {"external_id": "no-name"}},
            {"type": "Polygon"},
            {
                "type": "Feature",
                "geometry": square(),
                "properties": {
                    "name": "bad link",
                    "place_id": "00000000-0000-7000-8000-000000000000",
                },
            },
        ]
        resp = await client.post(
            "/geofences/import", content=self.collection(features), headers=tenant.h("admin")
        )
        assert resp.status_code == 422, resp.text
        rows = {(e["row"], e["field"]) for e in resp.json()["errors"]}
        assert (2, "geometry") in rows
        assert (3, "circle.radius_m") in rows
        assert (4, "name") in rows
        assert (5, "type") in rows
        assert (6, "place_id") in rows
        assert not any(r == 1 for r, _ in rows)
        listed = await client.get("/geofences", params={"tag": "imp"}, headers=tenant.h("admin"))
        assert listed.json()["items"] == []

    async def test_import_then_reimport_upserts(
        self, client: AsyncTestClient[Litestar], tenant: Tenant
    ) -> None:
        features = [
            {
                "type": "Feature",
                "geometry": square(lon=LON + i * 0.01),
                "properties": {"name": f"poly {i}", "tag": "up", "external_id": f"P{i}"},
            }
            for i in range(50)
        ] + [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [LON, LAT + i * 0.01]},
                "properties": {
                    "name": f"circle {i}",
                    "tag": "up",
                    "external_id": f"C{i}",
                    "radius_m": 75,
                },
            }
            for i in range(50)
        ]
        first = await client.post(
            "/geofences/import", content=self.collection(features), headers=tenant.h("admin")
        )
        assert first.status_code == 201, first.text
        assert first.json() == {"imported": 100, "updated": 0}
        features[0]["properties"]["name"] = "renamed"
        second = await client.post(
            "/geofences/import", content=self.collection(features), headers=tenant.h("admin")
        )
        assert second.json() == {"imported": 0, "updated": 100}
        page = await client.get(
            "/geofences", params={"tag": "up", "limit": 500}, headers=tenant.h("admin")
        )
        items = page.json()["items"]
        assert len(items) == 100
        assert {f["name"] for f in items if f["external_id"] == "P0"} == {"renamed"}
        circle = next(f for f in items if f["external_id"] == "C3")
        assert (
            circle["geometry"]["type"] == "Polygon"
            and len(circle["geometry"]["coordinates"][0]) > 32
        )

    async def test_agent_may_not_import(
        self, client: AsyncTestClient[Litestar], tenant: Tenant
    ) -> None:
        resp = await client.post(
            "/geofences/import", content=self.collection([]), headers=tenant.h("agent")
        )
        assert resp.status_code == 403, resp.text
