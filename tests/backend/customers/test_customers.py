"""Customers and prospects through the API: CRUD, filters, pagination, the CSV import."""

from __future__ import annotations

import csv
import io
import random
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.backend.world import Tenant, errors_for

LAT, LON = 37.5665, 126.9780  # Seoul City Hall


class TestCreateCustomer:
    async def test_manager_creates_and_reads(
        self, client: AsyncTestClient[Litestar], tenant: Tenant
    ) -> None:
        body = {
            "name": "Kim Minjun",
            "status": "customer",
            "lat": LAT,
            "lon": LON,
            "income_band": "middle",
            "household_type": "young_family",
            "life_stage": "young_family",
            "lifestyle_tags": ["golf", "car_owner"],
            "value": "1250000.50",
            "last_contact_at": "2026-09-01T10:00:00+09:00",
            "preferred_hours": [{"days": [0, 2, 4], "start": "09:00", "end": "12:00"}],
            "org_unit_id": str(tenant.units["T1"]),
            "assigned_agent_id": str(tenant.users["agent"]),
        }
        created = await tenant.post("manager", "/customers", body)
        got = await client.get(f"/customers/{created['id']}", headers=tenant.h("agent"))
        assert got.status_code == 200
        c = got.json()
        assert (c["lat"], c["lon"]) == (pytest.approx(LAT), pytest.approx(LON))
        assert c["lifestyle_tags"] == ["golf", "car_owner"] and c["value"] == 1250000.5
        assert c["last_contact_at"] == "2026-09-01T01:00:00Z"
        assert c["preferred_hours"] == [{"days": [0, 2, 4], "start": "09:00", "end": "12:00"}]

    async def test_agent_owns_what_they_create(self, tenant: Tenant) -> None:
        created = await tenant.post(
            "agent", "/customers", {"name": "Walk-in", "lat": LAT, "lon": LON}
        )
        assert created["status"] == "prospect"
        assert created["assigned_agent_id"] == str(tenant.users["agent"])
        assert created["org_unit_id"] == str(tenant.units["T1"])

    @pytest.mark.parametrize(
        ("who", "body", "status", "field"),
        [
            ("manager", {"name": "x", "lat": 90.5, "lon": 0}, 422, "lat"),
            ("manager", {"name": "x", "lat": 0, "lon": 180.01}, 422, "lon"),
            ("manager", {"name": "x", "lat": 0}, 422, "lon"),
            ("manager", {"name": "x", "lat": 0, "lon": 0, "status": "vip"}, 422, "status"),
            ("manager", {"name": "x", "lat": 0, "lon": 0, "value": -1}, 422, "value"),
            (
                "manager",
                {"name": "x", "lat": 0, "lon": 0, "last_contact_at": "2026-01-01T00:00:00"},
                422,
                "last_contact_at",
            ),
            (
                "manager",
                {
                    "name": "x",
                    "lat": 0,
                    "lon": 0,
                    "preferred_hours": [{"start": "12:00", "end": "09:00"}],
                },
                422,
                "preferred_hours.0",
            ),
            ("manager", {"name": "x", "lat": 0, "lon": 0, "colour": "red"}, 422, "colour"),
            (
                "manager",
                {
                    "name": "x",
                    "lat": 0,
                    "lon": 0,
                    "assigned_agent_id": "00000000-0000-7000-8000-000000000001",
                },
                422,
                "assigned_agent_id",
            ),
            (
                "agent",
                {
                    "name": "x",
                    "lat": 0,
                    "lon": 0,
                    "assigned_agent_id": "00000000-0000-7000-8000-000000000001",
                },
                422,
                "assigned_agent_id",
            ),
        ],
    )
    async def test_bad_input(
        self,
        client: AsyncTestClient[Litestar],
        tenant: Tenant,
        who: str,
        body: dict[str, Any],
        status: int,
        field: str,
    ) -> None:
        resp = await client.post("/customers", json=body, headers=tenant.h(who))
        assert resp.status_code == status, resp.text
        assert field in errors_for(resp)

    async def test_a_nul_character_is_bad_input_not_a_crash(
        self, client: AsyncTestClient[Litestar], tenant: Tenant
    ) -> None:
        # PostgreSQL text cannot hold NUL: the schema fuzzer found it as a 500.
        body = {"name": "a\u0000b", "lat": 0, "lon": 0}
        resp = await client.post("/customers", json=body, headers=tenant.h("manager"))
        assert resp.status_code == 422, resp.text
        resp = await client.get(
            "/customers", params={"lifestyle_tag": "x\x00"}, headers=tenant.h("manager")
        )
        assert resp.status_code == 422, resp.text

    async def test_manager_cannot_place_a_customer_outside_their_subtree(
        self, client: AsyncTestClient[Litestar], tenant: Tenant
    ) -> None:
        body = {"name": "x", "lat": 0, "lon": 0, "org_unit_id": str(tenant.units["T2"])}
        resp = await client.post("/customers", json=body, headers=tenant.h("manager"))
        assert resp.status_code == 422 and errors_for(resp) == ["org_unit_id"]
        agent2 = {"name": "x", "lat": 0, "lon": 0, "assigned_agent_id": str(tenant.users["agent2"])}
        resp = await client.post("/customers", json=agent2, headers=tenant.h("manager"))
        assert resp.status_code == 422 and errors_for(resp) == ["assigned_agent_id"]


class TestUpdateCustomer:
    async def test_patch_moves_and_clears(
        self, client: AsyncTestClient[Litestar], tenant: Tenant
    ) -> None:
        c = await tenant.post(
            "manager", "/customers", {"name": "Mover", "lat": LAT, "lon": LON, "phone": "010"}
        )
        h = tenant.h("manager")
        resp = await client.patch(
            f"/customers/{c['id']}", json={"lat": 37.0, "lon": 127.0, "phone": None}, headers=h
        )
        assert resp.status_code == 200, resp.text
        assert (resp.json()["lat"], resp.json()["lon"], resp.json()["phone"]) == (37.0, 127.0, None)
        half = await client.patch(f"/customers/{c['id']}", json={"lat": 36.0}, headers=h)
        assert half.status_code == 422 and errors_for(half) == ["lon"]
        null = await client.patch(f"/customers/{c['id']}", json={"status": None}, headers=h)
        assert null.status_code == 422 and errors_for(null) == ["status"]
        unchanged = await client.get(f"/customers/{c['id']}", headers=h)
        assert unchanged.json()["lat"] == 37.0 and unchanged.json()["status"] == "prospect"


class TestListCustomers:
    async def test_pages_cover_everything_once_in_creation_order(
        self, client: AsyncTestClient[Litestar], tenant: Tenant
    ) -> None:
        made = [
            (
                await tenant.post(
                    "manager",
                    "/customers",
                    {"name": f"page {i}", "lat": LAT, "lon": LON, "life_stage": "pager"},
                )
            )["id"]
            for i in range(23)
        ]
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 5, "life_stage": "pager"}
            if cursor:
                params["cursor"] = cursor
            resp = await client.get("/customers", params=params, headers=tenant.h("manager"))
            body = resp.json()
            seen += [c["id"] for c in body["items"]]
            cursor = body["next_cursor"]
            if not cursor:
                break
        assert seen == made

    async def test_bad_cursor_and_limit(
        self, client: AsyncTestClient[Litestar], tenant: Tenant
    ) -> None:
        bad = await client.get("/customers", params={"cursor": "!!"}, headers=tenant.h("manager"))
        assert bad.status_code == 422 and errors_for(bad) == ["cursor"]
        big = await client.get("/customers", params={"limit": 501}, headers=tenant.h("manager"))
        assert big.status_code == 422 and errors_for(big) == ["limit"]

    async def test_near_uses_metres(
        self, client: AsyncTestClient[Litestar], tenant: Tenant
    ) -> None:
        # 0.001 degrees of latitude is about 111 m.
        for i, dlat in enumerate((0.0, 0.0008, 0.0012, 0.01)):
            await tenant.post(
                "manager",
                "/customers",
                {"name": f"near {i}", "lat": LAT + dlat, "lon": LON, "life_stage": "near"},
            )
        params = {"near_lat": LAT, "near_lon": LON, "within_m": 100, "life_stage": "near"}
        resp = await client.get("/customers", params=params, headers=tenant.h("manager"))
        assert sorted(c["name"] for c in resp.json()["items"]) == ["near 0", "near 1"]
        missing = await client.get(
            "/customers", params={"near_lat": LAT, "near_lon": LON}, headers=tenant.h("manager")
        )
        assert missing.status_code == 422 and errors_for(missing) == ["within_m"]


COLUMNS = [
    "name",
    "status",
    "lat",
    "lon",
    "income_band",
    "life_stage",
    "lifestyle_tags",
    "value",
    "external_id",
]


def csv_bytes(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def good_rows(n: int, prefix: str) -> list[dict[str, Any]]:
    rng = random.Random(n)
    return [
        {
            "name": f"Imported {i}",
            "status": rng.choice(["customer", "prospect", "dormant"]),
            "lat": round(LAT + rng.uniform(-0.05, 0.05), 6),
            "lon": round(LON + rng.uniform(-0.05, 0.05), 6),
            "income_band": rng.choice(["low", "middle", "high"]),
            "life_stage": prefix,
            "lifestyle_tags": "golf;hiking" if i % 2 else "",
            "value": rng.randint(0, 10_000_000),
            "external_id": f"{prefix}-{i}",
        }
        for i in range(n)
    ]


class TestImportCustomers:
    async def test_ten_thousand_rows_in_one_request(
        self, client: AsyncTestClient[Litestar], tenant: Tenant
    ) -> None:
        resp = await client.post(
            "/customers/import",
            content=csv_bytes(good_rows(10_000, "bulk")),
            headers=tenant.h("manager") | {"Content-Type": "text/csv"},
        )
        assert resp.status_code == 201, resp.text[:500]
        assert resp.json() == {"imported": 10_000, "updated": 0}
        count, cursor = 0, None
        while True:
            params: dict[str, Any] = {"life_stage": "bulk", "limit": 500} | (
                {"cursor": cursor} if cursor else {}
            )
            page = (
                await client.get("/customers", params=params, headers=tenant.h("manager"))
            ).json()
            count += len(page["items"])
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert count == 10_000
        one = await client.get(
            "/customers", params={"external_id": "bulk-1"}, headers=tenant.h("manager")
        )
        assert one.json()["items"][0]["lifestyle_tags"] == ["golf", "hiking"]
        assert one.json()["items"][0]["org_unit_id"] == str(tenant.units["R1"])

    async def test_bad_rows_import_nothing_and_are_each_reported(
        self, client: AsyncTestClient[Litestar], tenant: Tenant
    ) -> None:
        rows = good_rows(200, "badfile")
        rows[4]["lat"] = "91"  # row 5
        rows[9]["status"] = "vip"  # row 10
        rows[19]["name"] = ""  # row 20
        rows[49]["lon"] = "east"  # row 50
        rows[99]["external_id"] = "badfile-0"  # row 100 repeats row 1
        resp = await client.post(
            "/customers/import", content=csv_bytes(rows), headers=tenant.h("manager")
        )
        assert resp.status_code == 422, resp.text
        reported = {(e["row"], e["field"]) for e in resp.json()["errors"]}
        assert reported == {
            (5, "lat"),
            (10, "status"),
            (20, "name"),
            (50, "lon"),
            (100, "external_id"),
        }
        listed = await client.get(
            "/customers", params={"life_stage": "badfile"}, headers=tenant.h("manager")
        )
        assert listed.json()["items"] == []

    async def test_existing_external_id_is_a_row_error(
        self, client: AsyncTestClient[Litestar], tenant: Tenant
    ) -> None:
        await tenant.post(
            "manager",
            "/customers",
            {"name": "Already", "lat": LAT, "lon": LON, "external_id": "dupe-1"},
        )
        rows = good_rows(3, "dupe")
        resp = await client.post(
            "/customers/import", content=csv_bytes(rows), headers=tenant.h("manager")
        )
        assert resp.status_code == 422
        assert [(e["row"], e["field"]) for e in resp.json()["errors"]] == [(2, "external_id")]

    async def test_not_csv(self, client: AsyncTestClient[Litestar], tenant: Tenant) -> None:
        empty = await client.post("/customers/import", content=b"", headers=tenant.h("manager"))
        assert empty.status_code == 422 and errors_for(empty) == ["body"]
        binary = await client.post(
            "/customers/import", content=b"\xff\xfe\x00", headers=tenant.h("manager")
        )
        assert binary.status_code == 422 and errors_for(binary) == ["body"]
        header_only = await client.post(
            "/customers/import", content=b"name,lat,lon\n", headers=tenant.h("manager")
        )
        assert header_only.status_code == 422 and errors_for(header_only) == ["body"]


async def test_name_search_treats_wildcards_literally(
    client: AsyncTestClient[Litestar], tenant: Tenant
) -> None:
    await tenant.post("manager", "/customers", {"name": "100% Kim", "lat": LAT, "lon": LON})
    await tenant.post("manager", "/customers", {"name": "1000 Kim", "lat": LAT, "lon": LON})
    resp = await client.get("/customers", params={"q": "100%"}, headers=tenant.h("manager"))
    assert [c["name"] for c in resp.json()["items"]] == ["100% Kim"]
    resp = await client.get("/customers", params={"q": "kim"}, headers=tenant.h("manager"))
    assert {c["name"] for c in resp.json()["items"]} >= {"100% Kim", "1000 Kim"}
