"""What an outside probe broke (issue 29), one regression class per hole, through the real API.

Devices (an agent undoing a revocation, registering freely) are in tests/backend/org, the
embedded database's door in tests/backend/db/test_embedded_db.py, spoof alarms in
tests/geofence/test_spoof.py, readiness in tests/backend/ops/test_ops.py.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import uuid
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import settings as examples
from hypothesis import strategies as st
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.auth.ratelimit import Limit
from backend.common.bodies import MAX_JSON_DEPTH, json_depth_over
from backend.common.egress import TargetPolicy, TargetRefused, globally_routable
from backend.config import Settings
from tests.backend.world import PASSWORD, Tenant, errors_for
from tests.conftest import serve

WORLD = {
    "type": "Polygon",
    "coordinates": [[[-180, -90], [180, -90], [180, 90], [-180, 90], [-180, -90]]],
}


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


class TestNoServerErrors:
    async def test_options_on_metrics(self, client: AsyncTestClient[Litestar]) -> None:
        resp = await client.options("/metrics")
        assert resp.status_code == 204, resp.text
        assert "GET" in resp.headers["allow"]

    @pytest.mark.parametrize("depth", [1_000, 100_000, MAX_JSON_DEPTH + 1])
    async def test_deep_json_is_422_everywhere(
        self, client: AsyncTestClient[Litestar], tenant: Tenant, depth: int
    ) -> None:
        body = '{"name": "x", "attributes": ' + '{"a": ' * depth + "1" + "}" * depth + "}"
        for path, who in (
            ("/customers", "agent"),
            ("/ingest/locations", "agent"),
            ("/geofences/import", "admin"),
        ):
            resp = await client.post(
                path,
                content=body,
                headers={**tenant.h(who), "content-type": "application/json"},
            )
            assert resp.status_code == 422, (path, resp.text[:300])
            assert errors_for(resp) == ["body"], resp.text[:300]

    async def test_unbalanced_brackets_never_reach_the_parser(
        self, client: AsyncTestClient[Litestar], tenant: Tenant
    ) -> None:
        resp = await client.post(
            "/customers",
            content="[" * 200_000,
            headers={**tenant.h("agent"), "content-type": "application/json"},
        )
        assert resp.status_code == 422 and errors_for(resp) == ["body"]

    @pytest.mark.parametrize("path", ["/customers", "/ingest/locations"])
    async def test_a_lone_surrogate_is_422(
        self, client: AsyncTestClient[Litestar], tenant: Tenant, path: str
    ) -> None:
        body = '{"name": "x\\ud800y", "lat": 37.5, "lon": 127.0, "lng": NaN}'
        resp = await client.post(
            path, content=body, headers={**tenant.h("agent"), "content-type": "application/json"}
        )
        assert resp.status_code == 422 and errors_for(resp) == ["body"], resp.text

    async def test_shallow_free_form_attributes_still_pass(
        self, client: AsyncTestClient[Litestar], tenant: Tenant
    ) -> None:
        body = {"name": "Deep", "kind": "store", "lat": 37.5, "lon": 127.0}
        resp = await client.post(
            "/places", json={**body, "attributes": nested(10)}, headers=tenant.h("admin")
        )
        assert resp.status_code == 201, resp.text

    async def test_body_over_the_limit_is_413(
        self, client: AsyncTestClient[Litestar], tenant: Tenant
    ) -> None:
        body = '{"name": "' + "x" * (1024 * 1024) + '"}'
        resp = await client.post(
            "/customers",
            content=body,
            headers={**tenant.h("agent"), "content-type": "application/json"},
        )
        assert resp.status_code == 413 and errors_for(resp) == ["body"]

    @pytest.mark.parametrize(
        "area",
        [
            WORLD,
            {  # exactly half the globe wide: antipodal edges
                "type": "Polygon",
                "coordinates": [[[-90, 0], [90, 0], [90, 10], [-90, 10], [-90, 0]]],
            },
            {  # a vertex on the pole
                "type": "Polygon",
                "coordinates": [[[0, 80], [10, 80], [5, 90], [0, 80]]],
            },
        ],
    )
    async def test_areas_the_sphere_cannot_take_are_422(
        self, client: AsyncTestClient[Litestar], tenant: Tenant, area: dict[str, Any]
    ) -> None:
        resp = await client.post("/market/area", json={"area": area}, headers=tenant.h("admin"))
        assert resp.status_code == 422, resp.text
        assert errors_for(resp) == ["area"]
        fence = {"name": "huge", "geometry": area, "org_unit_id": str(tenant.units["T1"])}
        resp = await client.post("/geofences", json=fence, headers=tenant.h("admin"))
        assert resp.status_code == 422 and errors_for(resp) == ["geometry"], resp.text


def _depth(text_: str) -> int:
    """The nesting depth of JSON text, the slow way (a reference for the fast check)."""
    deepest = depth = 0
    in_string = escaped = False
    for ch in text_:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


@pytest.mark.parametrize(
    "doc",
    [
        nested(5),
        nested(40),
        [[[[[[1]]]]]] * 50,
        {"s": "[[[[{{{{" * 20, "t": '\\"[[[' * 30, "u": [nested(3)] * 100},
        {"k" * 3: [{"a": [1, 2, {"b": [nested(MAX_JSON_DEPTH - 3)]}]}]},
        {"deep": nested(MAX_JSON_DEPTH)},
    ],
)
def test_the_depth_check_agrees_with_a_parser(doc: Any) -> None:
    import json

    body = json.dumps(doc)
    assert json_depth_over(body.encode()) == (_depth(body) > MAX_JSON_DEPTH)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab,:'),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=60,
)


@given(doc=JSON_VALUES, limit=st.integers(min_value=0, max_value=6))
@examples(max_examples=300, deadline=None)
def test_the_depth_check_agrees_with_a_parser_everywhere(doc: Any, limit: int) -> None:
    import json

    body = json.dumps(doc)
    assert json_depth_over(body.encode(), limit) == (_depth(body) > limit), body


class TestOutgoingAddresses:
    @pytest.mark.parametrize(
        ("address", "routable"),
        [
            ("100.100.100.200", False),  # carrier-grade NAT: a cloud's metadata service
            ("100.64.0.1", False),
            ("192.88.99.1", False),  # the deprecated 6to4 relay anycast
            ("198.18.0.1", False),  # benchmarking
            ("192.0.2.1", False),  # documentation
            ("224.0.0.1", False),  # multicast
            ("ff02::1", False),
            ("::ffff:10.0.0.1", False),  # IPv4-mapped private
            ("64:ff9b::a9fe:a9fe", False),  # NAT64 of 169.254.169.254
            ("2002:a9fe:a9fe::1", False),  # 6to4 of 169.254.169.254
            ("fc00::1", False),
            ("8.8.8.8", True),
            ("2606:4700::1", True),
            ("::ffff:8.8.8.8", True),
        ],
    )
    def test_only_globally_routable_unicast(self, address: str, routable: bool) -> None:
        assert globally_routable(ipaddress.ip_address(address)) is routable

    async def test_webhook_targets_refused(
        self, client: AsyncTestClient[Litestar], tenant: Tenant
    ) -> None:
        for url in ("http://100.100.100.200/latest/meta-data", "http://192.88.99.7/hook"):
            resp = await client.post(
                "/webhooks/subscriptions",
                json={"url": url, "event_types": ["entered"]},
                headers=tenant.h("admin"),
            )
            assert resp.status_code == 422 and errors_for(resp) == ["url"], resp.text
        with pytest.raises(TargetRefused):
            await TargetPolicy(require_https=False).check("http://100.100.100.200/")


class TestMarketScope:
    async def test_an_agent_counts_only_what_they_may_open(
        self, client: AsyncTestClient[Litestar], tenant: Tenant
    ) -> None:
        lat, lon = 37.61, 127.11
        other_branch = await tenant.post(
            "admin",
            "/places",
            {
                "name": "Their apartment",
                "kind": "apartment_complex",
                "lat": lat,
                "lon": lon,
                "household_count": 2084,
                "org_unit_id": str(tenant.units["B2"]),
            },
        )
        assert (
            await client.get(f"/places/{other_branch['id']}", headers=tenant.h("agent"))
        ).status_code == 404
        d = 0.002
        area = {
            "type": "Polygon",
            "coordinates": [
                [
                    [lon - d, lat - d],
                    [lon + d, lat - d],
                    [lon + d, lat + d],
                    [lon - d, lat + d],
                    [lon - d, lat - d],
                ]
            ],
        }
        agent = await client.post("/market/area", json={"area": area}, headers=tenant.h("agent"))
        assert agent.status_code in (200, 201), agent.text
        assert agent.json()["households"] is None
        admin = await client.post("/market/area", json={"area": area}, headers=tenant.h("admin"))
        assert admin.json()["households"] == 2084


class TestSchemaTellsTheTruth:
    async def test_times_of_day_are_documented_as_sent(
        self, client: AsyncTestClient[Litestar], tenant: Tenant
    ) -> None:
        doc = (await client.get("/schema/openapi.json")).json()
        profile = doc["components"]["schemas"]["AgentProfileOut"]["properties"]
        agent = tenant.users["agent"]
        put = await client.put(
            f"/agents/{agent}/profile",
            json={"start": {"lat": 37.5, "lon": 127.0}},
            headers=tenant.h("admin"),
        )
        assert put.status_code == 200, put.text
        for name in ("shift_start", "shift_end"):
            assert "format" not in profile[name], profile[name]  # neither duration nor time
            assert re.match(profile[name]["pattern"], put.json()[name]), put.json()[name]
        assert "'duration'" not in str(doc)
        # A time of day with an offset is no local time (it was a 500).
        zoned = await client.put(
            f"/agents/{agent}/profile",
            json={"start": {"lat": 37.5, "lon": 127.0}, "shift_start": "00:00:00Z"},
            headers=tenant.h("admin"),
        )
        assert zoned.status_code == 422 and errors_for(zoned) == ["shift_start"], zoned.text

    async def test_each_operation_names_its_credentials(
        self, client: AsyncTestClient[Litestar]
    ) -> None:
        doc = (await client.get("/schema/openapi.json")).json()
        assert "security" not in doc
        assert doc["paths"]["/health"]["get"]["security"] == []
        assert doc["paths"]["/auth/login"]["post"]["security"] == []
        assert doc["paths"]["/customers"]["get"]["security"] == [
            {"BearerToken": []},
            {"ApiKey": []},
        ]

    async def test_allow_names_every_method_served(
        self, client: AsyncTestClient[Litestar], app: Litestar
    ) -> None:
        checked = 0
        for route in app.routes:
            if not isinstance(route, HTTPRoute):
                continue
            served = set(route.methods) - {"OPTIONS", "HEAD"}
            url = re.sub(r"\{[^}:]+:date\}", "2026-12-01", route.path)
            url = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), url)
            resp = await client.options(url)
            assert resp.status_code == 204, (url, resp.status_code)
            allow = {m.strip() for m in resp.headers["allow"].split(",")}
            assert served <= allow, (route.path_format, sorted(served), sorted(allow))
            checked += 1
        assert checked > 50


class TestSmallerHoles:
    async def test_two_credentials_are_refused_naming_both(
        self, client: AsyncTestClient[Litestar], tenant: Tenant
    ) -> None:
        headers = {**tenant.h("agent"), "X-API-Key": "fsk_abc_whatever"}
        resp = await client.get("/customers", headers=headers)
        assert resp.status_code == 400
        assert errors_for(resp) == ["X-API-Key", "Authorization"]

    @pytest.mark.parametrize(
        ("path", "body", "field"),
        [
            ("/customers", {"name": "Bool", "lat": True, "lon": 127.0}, "lat"),
            ("/customers", {"name": "Str", "lat": "37.5", "lon": 127.0}, "lat"),
            ("/customers", {"name": "Num", "lat": 37.5, "lon": 127.0, "do_not_visit": 0}, "dnv"),
        ],
    )
    async def test_strict_body_types(
        self,
        client: AsyncTestClient[Litestar],
        tenant: Tenant,
        path: str,
        body: dict[str, Any],
        field: str,
    ) -> None:
        resp = await client.post(path, json=body, headers=tenant.h("agent"))
        assert resp.status_code == 422, resp.text
        assert errors_for(resp) == [{"dnv": "do_not_visit"}.get(field, field)]

    @pytest.mark.parametrize("until", ["0.5", "1700000000", "2026-12-01T09:00:00", "tomorrow"])
    async def test_query_times_are_rfc3339_with_offset(
        self, client: AsyncTestClient[Litestar], tenant: Tenant, until: str
    ) -> None:
        resp = await client.get("/events", params={"until": until}, headers=tenant.h("admin"))
        assert resp.status_code == 422 and errors_for(resp) == ["until"], resp.text
        ok = await client.get(
            "/events", params={"until": "2026-12-01T09:00:00+09:00"}, headers=tenant.h("admin")
        )
        assert ok.status_code == 200, ok.text

    async def test_csv_imports_neutralise_formulas(
        self, client: AsyncTestClient[Litestar], tenant: Tenant, engine: AsyncEngine
    ) -> None:
        marker = uuid.uuid4().hex[:8]
        csv_text = (
            "name,lat,lon,phone\n"
            f"\"=cmd|' /C calc'!A0 {marker}\",37.5,127.0,+82 10-1234-5678\n"
            f'Kim {marker},-37.5,127.0,"@SUM(A1:A9)"\n'
        )
        resp = await client.post(
            "/customers/import",
            content=csv_text,
            headers={**tenant.h("admin"), "content-type": "text/csv"},
        )
        assert resp.status_code in (200, 201), resp.text
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    text("SELECT name, phone FROM customers WHERE name LIKE :m ORDER BY name"),
                    {"m": f"%{marker}"},
                )
            ).all()
        assert [tuple(r) for r in rows] == [
            (f"'=cmd|' /C calc'!A0 {marker}", "+82 10-1234-5678"),
            (f"Kim {marker}", "'@SUM(A1:A9)"),
        ]

    async def test_plan_time_limit_is_capped(
        self, client: AsyncTestClient[Litestar], tenant: Tenant, engine: AsyncEngine
    ) -> None:
        resp = await client.patch(
            "/tenant/settings", json={"plan_time_limit_s": 0.3}, headers=tenant.h("admin")
        )
        assert resp.status_code == 200 and resp.json()["plan_time_limit_s"] == 0.3
        too_long = await client.patch(
            "/tenant/settings", json={"plan_time_limit_s": 60}, headers=tenant.h("admin")
        )
        assert too_long.status_code == 422 and errors_for(too_long) == ["plan_time_limit_s"]
        profile = {
            "start": {"lat": 37.5, "lon": 127.0},
            "shift_start": "09:00",
            "shift_end": "17:00",
            "timezone": "UTC",
        }
        agent = str(tenant.users["agent"])
        put = await client.put(f"/agents/{agent}/profile", json=profile, headers=tenant.h("admin"))
        assert put.status_code == 200, put.text
        plan = await client.post(
            "/plans",
            json={
                "agent_id": agent,
                "date": str(date.today() + timedelta(days=2)),
                "time_limit_s": 30,
            },
            headers=tenant.h("manager"),
        )
        assert plan.status_code == 201, plan.text
        async with engine.connect() as conn:
            used = await conn.scalar(
                text("SELECT (inputs->>'time_limit_s')::float8 FROM plans WHERE id = :id"),
                {"id": plan.json()["id"]},
            )
        assert used == 0.3


async def test_forwarded_headers_are_not_believed_by_default(
    settings: Settings, tenant: Tenant
) -> None:
    """A client on loopback rotating X-Forwarded-For still meets the per-address login limit."""
    strict = dataclasses.replace(
        settings, login_failures_address=Limit(per_minute=0.001, burst=3), trusted_proxies=()
    )
    with serve(strict) as base:
        async with httpx.AsyncClient(base_url=base) as http:
            statuses = []
            for i in range(5):
                resp = await http.post(
                    "/auth/login",
                    json={"tenant": tenant.slug, "email": f"nobody{i}@x.test", "password": "no"},
                    headers={"X-Forwarded-For": f"203.0.113.{i}"},
                )
                statuses.append(resp.status_code)
            assert statuses[-1] == 429, statuses
            good = await http.post(
                "/auth/login",
                json={
                    "tenant": tenant.slug,
                    "email": f"admin@{tenant.slug}.test",
                    "password": PASSWORD,
                },
                headers={"X-Forwarded-For": "198.51.100.9"},
            )
            assert good.status_code == 429
