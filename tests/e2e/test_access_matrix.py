"""The access matrix: each role x each resource x own / other org subtree / other tenant.

Every cell is asserted twice: reading the record by id and changing it, plus whether the
record shows up in the resource's list.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import pytest_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.backend.world import Tenant

SQUARE = {
    "type": "Polygon",
    "coordinates": [
        [[127.0, 37.5], [127.01, 37.5], [127.01, 37.51], [127.0, 37.51], [127.0, 37.5]]
    ],
}

PATCH = {
    "customers": {"name": "renamed"},
    "places": {"name": "renamed"},
    "geofences": {"name": "renamed"},
    "territories": {"name": "renamed"},
    "beacons": {"name": "renamed"},
    "wifi-access-points": {"ssid": "renamed"},
    "org-units": {"name": "renamed"},
    "users": {"name": "renamed"},
    "devices": {"name": "renamed"},
    "store-apps": {"name": "renamed"},
}
RESOURCES = list(PATCH)

OK, FORBIDDEN, MISSING = 200, 403, 404
HIDDEN = (MISSING, MISSING)
FULL = (OK, OK)
READ_ONLY = (OK, FORBIDDEN)

# role -> resource -> ((read, write) on own subtree, (read, write) on the other subtree).
# The other tenant is HIDDEN for everyone, always.
EXPECTED: dict[str, dict[str, tuple[tuple[int, int], tuple[int, int]]]] = {
    "admin": {r: (FULL, FULL) for r in RESOURCES},
    "manager": {r: (FULL, HIDDEN) for r in RESOURCES},
    "agent": {
        "customers": (FULL, HIDDEN),
        "places": (READ_ONLY, HIDDEN),
        "geofences": (READ_ONLY, HIDDEN),
        "territories": (READ_ONLY, HIDDEN),
        "beacons": (READ_ONLY, HIDDEN),
        "wifi-access-points": (READ_ONLY, HIDDEN),
        "org-units": (READ_ONLY, HIDDEN),
        "users": (READ_ONLY, HIDDEN),
        "devices": (FULL, HIDDEN),
        "store-apps": (HIDDEN, HIDDEN),
    },
    "store_app": {
        "customers": (HIDDEN, HIDDEN),
        "places": (READ_ONLY, HIDDEN),
        "geofences": (READ_ONLY, HIDDEN),
        "territories": (HIDDEN, HIDDEN),
        "beacons": (READ_ONLY, HIDDEN),
        "wifi-access-points": (READ_ONLY, HIDDEN),
        "org-units": (HIDDEN, HIDDEN),
        "users": (HIDDEN, HIDDEN),
        "devices": (HIDDEN, HIDDEN),
        "store-apps": (READ_ONLY, HIDDEN),
    },
}


@dataclass
class Records:
    """Per resource, the id of a record in subtree 1 ("own") and subtree 2 ("other")."""

    ids: dict[str, dict[str, str]]
    store_keys: dict[str, str]


async def build_records(t: Tenant) -> Records:
    ids: dict[str, dict[str, str]] = {r: {} for r in RESOURCES}
    keys: dict[str, str] = {}
    for side, label in (("1", "own"), ("2", "other")):
        team, branch = str(t.units[f"T{side}"]), str(t.units[f"B{side}"])
        agent = str(t.users["agent" if side == "1" else "agent2"])
        c = await t.post(
            "admin",
            "/customers",
            {
                "name": f"C{side}",
                "lat": 37.5,
                "lon": 127.0,
                "org_unit_id": team,
                "assigned_agent_id": agent,
            },
        )
        p = await t.post(
            "admin",
            "/places",
            {"kind": "store", "name": f"S{side}", "lat": 37.5, "lon": 127.0, "org_unit_id": branch},
        )
        g = await t.post(
            "admin",
            "/geofences",
            {
                "name": f"G{side}",
                "circle": {"lat": 37.5, "lon": 127.0, "radius_m": 80},
                "org_unit_id": branch,
                "place_id": p["id"],
            },
        )
        tr = await t.post(
            "admin", "/territories", {"name": f"TR{side}", "geometry": SQUARE, "org_unit_id": team}
        )
        b = await t.post(
            "admin",
            "/beacons",
            {
                "place_id": p["id"],
                "protocol": "ibeacon",
                "ibeacon_uuid": "f7826da6-4fa2-4e98-8024-bc5b71e0893e",
                "major": int(side),
                "minor": 1,
            },
        )
        w = await t.post(
            "admin",
            "/wifi-access-points",
            {"place_id": p["id"], "bssid": f"00:11:22:33:44:5{side}"},
        )
        d = await t.post(
            "admin",
            "/devices",
            {"name": f"D{side}", "identifier": f"{t.slug}-dev-{side}", "user_id": agent},
        )
        s = await t.post(
            "admin",
            "/store-apps",
            {"name": f"SA{side}", "store_ids": [p["id"]], "org_unit_id": branch},
        )
        keys[label] = s["api_key"]
        for res, rec in (
            ("customers", c),
            ("places", p),
            ("geofences", g),
            ("territories", tr),
            ("beacons", b),
            ("wifi-access-points", w),
            ("devices", d),
            ("store-apps", s),
        ):
            ids[res][label] = rec["id"]
        ids["org-units"][label] = team
        ids["users"][label] = agent
    return Records(ids=ids, store_keys=keys)


@pytest_asyncio.fixture(scope="module")
async def world(tenant: Tenant, other_tenant: Tenant) -> tuple[Tenant, Records, Records]:
    return tenant, await build_records(tenant), await build_records(other_tenant)


def headers(t: Tenant, recs: Records, role: str) -> dict[str, str]:
    if role == "store_app":
        return {"X-API-Key": recs.store_keys["own"]}
    return t.h(role)


async def listed_ids(
    client: AsyncTestClient[Litestar], path: str, hdrs: dict[str, str]
) -> set[str]:
    resp = await client.get(f"/{path}", params={"limit": 500}, headers=hdrs)
    assert resp.status_code == 200, resp.text
    return {item["id"] for item in resp.json()["items"]}


CELLS = [(role, res) for role in EXPECTED for res in RESOURCES]


@pytest.mark.parametrize(("role", "resource"), CELLS, ids=[f"{r}-{x}" for r, x in CELLS])
async def test_access_cell(
    client: AsyncTestClient[Litestar],
    world: tuple[Tenant, Records, Records],
    role: str,
    resource: str,
) -> None:
    tenant, mine, theirs = world
    hdrs = headers(tenant, mine, role)
    own, other = EXPECTED[role][resource]
    targets = {
        "own subtree": (mine.ids[resource]["own"], own),
        "other subtree": (mine.ids[resource]["other"], other),
        "other tenant": (theirs.ids[resource]["own"], HIDDEN),
    }
    listed = await listed_ids(client, resource, hdrs)
    for where, (item_id, (read, write)) in targets.items():
        got = (await client.get(f"/{resource}/{item_id}", headers=hdrs)).status_code
        assert got == read, f"{role} reading {resource} in {where}: {got}, expected {read}"
        assert (item_id in listed) == (read == OK), f"{role} listing {resource} in {where}"
        resp = await client.patch(f"/{resource}/{item_id}", json=PATCH[resource], headers=hdrs)
        assert resp.status_code == write, f"{role} changing {resource} in {where}: {resp.text}"


async def test_no_token_no_access(client: AsyncTestClient[Litestar]) -> None:
    for resource in RESOURCES:
        assert (await client.get(f"/{resource}")).status_code == 401
    bad = {"X-API-Key": "fsk_000000000000_nope"}
    assert (await client.get("/places", headers=bad)).status_code == 401
    assert (
        await client.get("/places", headers={"Authorization": "Bearer not-a-jwt"})
    ).status_code == 401
