"""The demo tenant: an insurer in Seoul with its org tree, agents, customers and stores.

Deterministic (a fixed random seed), written in one transaction, and skipped when the
tenant already exists.
"""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from anyio import to_thread
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.security import hash_password, new_api_key
from backend.common.geo import circle_area, point
from backend.db.base import uuid7
from backend.db.models import (
    AgentProfile,
    Beacon,
    Customer,
    Device,
    Geofence,
    OrgUnit,
    Place,
    StoreApp,
    Tenant,
    Territory,
    User,
    WifiAccessPoint,
)
from backend.tenants.services import create_tenant

DEMO_SLUG = "hanbit-life"
DEMO_PASSWORD = "fieldsense-demo"  # noqa: S105 (demo data, printed at start)
DEMO_BEACON_UUID = uuid.UUID("f7826da6-4fa2-4e98-8024-bc5b71e0893e")

# (region, branch, centre lat, centre lon); the Han river splits the two regions.
BRANCHES = [
    ("Gangbuk", "Jongno", 37.5729, 126.9794),
    ("Gangbuk", "Mapo", 37.5566, 126.9237),
    ("Gangnam", "Gangnam", 37.4979, 127.0276),
    ("Gangnam", "Songpa", 37.5133, 127.1001),
]
SURNAMES = ["Kim", "Lee", "Park", "Choi", "Jung", "Kang", "Cho", "Yoon", "Jang", "Lim", "Han", "Oh"]
GIVEN = [
    "Minjun",
    "Seoyeon",
    "Jiho",
    "Hayoon",
    "Doyun",
    "Seoah",
    "Eunwoo",
    "Jiwoo",
    "Siwoo",
    "Haeun",
    "Yejun",
    "Sua",
    "Juwon",
    "Jimin",
    "Hyunwoo",
    "Yuna",
]
INCOME = ["low", "lower_middle", "middle", "upper_middle", "high"]
HOUSEHOLD = ["single", "couple", "young_family", "family_teens", "empty_nest", "retired"]
LIFE_STAGE = ["student", "early_career", "young_family", "established", "pre_retirement", "retired"]
LIFESTYLE = [
    "golf",
    "hiking",
    "commuter",
    "pet_owner",
    "investor",
    "health_conscious",
    "frequent_traveller",
    "homeowner",
    "car_owner",
    "small_business",
]
STORES = ["Lounge", "Partner Bank", "Cafe Partner", "Mart Kiosk"]


@dataclass
class DemoTenant:
    tenant_id: uuid.UUID
    slug: str
    store_api_key: str | None
    counts: dict[str, int] = field(default_factory=dict)


def _jitter(rng: random.Random, lat: float, lon: float, sd_m: float) -> tuple[float, float]:
    dlat = rng.gauss(0, sd_m) / 111_320
    dlon = rng.gauss(0, sd_m) / (111_320 * math.cos(math.radians(lat)))
    return lat + dlat, lon + dlon


def _square(lat: float, lon: float, half_m: float) -> dict[str, Any]:
    dlat = half_m / 111_320
    dlon = half_m / (111_320 * math.cos(math.radians(lat)))
    ring = [
        [lon - dlon, lat - dlat],
        [lon + dlon, lat - dlat],
        [lon + dlon, lat + dlat],
        [lon - dlon, lat + dlat],
        [lon - dlon, lat - dlat],
    ]
    return {"type": "Polygon", "coordinates": [ring]}


def _wkt_polygon(geojson: dict[str, Any], multi: bool) -> str:
    ring = ", ".join(f"{x!r} {y!r}" for x, y in geojson["coordinates"][0])
    return f"SRID=4326;MULTIPOLYGON((({ring})))" if multi else f"SRID=4326;POLYGON(({ring}))"


def _email(name: str, n: int) -> str:
    return f"{name.lower().replace(' ', '.')}{n}@hanbit.example"


async def demo_logins(session: AsyncSession, tenant_id: uuid.UUID) -> dict[str, User]:
    """The users the quick start prints: the first agent, a branch manager and the admin."""
    branch_units = select(OrgUnit.id).where(
        OrgUnit.tenant_id == tenant_id, OrgUnit.kind == "branch"
    )
    picks = {
        "agent": select(User).where(User.role == "agent"),
        "manager": select(User).where(User.role == "manager", User.org_unit_id.in_(branch_units)),
        "admin": select(User).where(User.role == "admin"),
    }
    out = {}
    for label, stmt in picks.items():
        user = (
            await session.scalars(stmt.where(User.tenant_id == tenant_id).order_by(User.id))
        ).first()
        assert user is not None, f"demo tenant has no {label}"
        out[label] = user
    return out


async def seed_demo(session: AsyncSession, n_customers: int = 2000) -> DemoTenant:
    """Create the demo tenant unless it exists; return how to log in to it."""
    existing = await session.scalar(select(Tenant.id).where(Tenant.slug == DEMO_SLUG))
    if existing is not None:
        return DemoTenant(existing, DEMO_SLUG, None)

    rng = random.Random(20261124)
    created = await create_tenant(
        session,
        slug=DEMO_SLUG,
        name="Hanbit Life Insurance",
        admin_email="admin@hanbit.example",
        admin_password=DEMO_PASSWORD,
        hq_name="Hanbit Life HQ",
    )
    tid, hq = created.tenant.id, created.hq
    pw_hash = await to_thread.run_sync(hash_password, DEMO_PASSWORD)
    units: list[dict[str, Any]] = []
    users: list[dict[str, Any]] = []
    regions: dict[str, uuid.UUID] = {}
    teams: list[tuple[uuid.UUID, float, float, int]] = []  # id, lat, lon, branch index

    def unit(
        name: str, kind: str, parent: uuid.UUID, parent_path: list[uuid.UUID]
    ) -> dict[str, Any]:
        uid = uuid7()
        row = {
            "tenant_id": tid,
            "id": uid,
            "name": name,
            "kind": kind,
            "parent_id": parent,
            "path": [*parent_path, uid],
        }
        units.append(row)
        return row

    def person(role: str, org_unit_id: uuid.UUID) -> dict[str, Any]:
        name = f"{rng.choice(SURNAMES)} {rng.choice(GIVEN)}"
        row = {
            "tenant_id": tid,
            "id": uuid7(),
            "email": _email(name, len(users) + 1),
            "name": name,
            "role": role,
            "org_unit_id": org_unit_id,
            "password_hash": pw_hash,
        }
        users.append(row)
        return row

    person("manager", hq.id)
    for b, (region, branch, lat, lon) in enumerate(BRANCHES):
        if region not in regions:
            r = unit(f"{region} Region", "region", hq.id, [hq.id])
            regions[region] = r["id"]
            person("manager", r["id"])
        region_row = next(u for u in units if u["id"] == regions[region])
        br = unit(f"{branch} Branch", "branch", region_row["id"], region_row["path"])
        person("manager", br["id"])
        for t, side in enumerate(("North", "South")):
            team = unit(f"{branch} {side} Team", "team", br["id"], br["path"])
            tlat = lat + (0.006 if t == 0 else -0.006)
            teams.append((team["id"], tlat, lon, b))
            person("manager", team["id"])
    agents_per_team = [3, 3, 2, 3, 2, 2, 3, 2]  # 20 agents
    agents: list[tuple[dict[str, Any], tuple[uuid.UUID, float, float, int]]] = []
    for team_row, k in zip(teams, agents_per_team, strict=True):
        for _ in range(k):
            agents.append((person("agent", team_row[0]), team_row))
    await session.execute(insert(OrgUnit), units)
    await session.execute(insert(User), users)

    devices = [
        {
            "tenant_id": tid,
            "id": uuid7(),
            "user_id": a["id"],
            "name": f"{a['name']}'s phone",
            "platform": rng.choice(["android", "ios"]),
            "identifier": f"demo-device-{i:03d}",
        }
        for i, (a, _) in enumerate(agents, start=1)
    ]
    await session.execute(insert(Device), devices)

    # Every agent starts the day near their team's office: plans work out of the box.
    profiles = []
    for agent_row, (_team, lat, lon, _b) in agents:
        start_lat, start_lon = _jitter(rng, lat, lon, 400)
        profiles.append(
            {
                "tenant_id": tid,
                "user_id": agent_row["id"],
                "settings": {
                    "start": {"lat": start_lat, "lon": start_lon},
                    "end": None,
                    "shift_start": "09:00:00",
                    "shift_end": "18:00:00",
                    "lunch": {"earliest": "11:30:00", "latest": "13:30:00", "minutes": 60},
                    "mode": rng.choice(["car", "car", "transit"]),
                    "max_stops": None,
                    "timezone": "Asia/Seoul",
                },
            }
        )
    await session.execute(insert(AgentProfile), profiles)

    territories = []
    for team_id, lat, lon, _b in teams:
        sq = _square(lat, lon, 1400)
        territories.append(
            {
                "tenant_id": tid,
                "id": uuid7(),
                "org_unit_id": team_id,
                "agent_id": None,
                "name": "Territory",
                "geom": _wkt_polygon(sq, multi=True),
            }
        )
    await session.execute(insert(Territory), territories)

    now = datetime.now(UTC).replace(microsecond=0)
    customers = []
    for i in range(n_customers):
        agent, (team_id, lat, lon, _b) = agents[i % len(agents)]
        clat, clon = _jitter(rng, lat, lon, 900)
        status = rng.choices(["customer", "prospect", "dormant"], weights=[55, 35, 10])[0]
        hours: list[dict[str, Any]] = []
        if rng.random() < 0.3:
            start = rng.choice(["09:00", "10:00", "13:00", "14:00"])
            end = {"09:00": "12:00", "10:00": "12:00", "13:00": "17:00", "14:00": "18:00"}[start]
            hours = [{"days": [0, 1, 2, 3, 4], "start": start, "end": end}]
        customers.append(
            {
                "tenant_id": tid,
                "id": uuid7(),
                "org_unit_id": team_id,
                "status": status,
                "name": f"{rng.choice(SURNAMES)} {rng.choice(GIVEN)}",
                "phone": f"010-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}",
                "address": f"Seoul, near {BRANCHES[_b][1]}",
                "location": point(clat, clon),
                "income_band": rng.choice(INCOME),
                "household_type": rng.choice(HOUSEHOLD),
                "life_stage": rng.choice(LIFE_STAGE),
                "lifestyle_tags": rng.sample(LIFESTYLE, rng.randint(0, 3)),
                "value": round(rng.lognormvariate(13, 1)) if status != "prospect" else 0,
                "last_contact_at": now - timedelta(days=rng.randint(0, 240))
                if status != "prospect"
                else None,
                "do_not_visit": rng.random() < 0.02,
                "preferred_hours": hours,
                "assigned_agent_id": agent["id"],
                "external_id": f"CRM-{i + 1:05d}",
            }
        )
    await session.execute(insert(Customer), customers)

    places, beacons, wifi, fences = [], [], [], []
    store_ids = []
    for b, (_region, branch, lat, lon) in enumerate(BRANCHES):
        branch_team = teams[2 * b][0]
        branch_unit = next(u for u in units if u["id"] == teams[2 * b][0])["parent_id"]
        for s, store in enumerate(STORES[:3]):
            slat, slon = _jitter(rng, lat, lon, 700)
            pid = uuid7()
            store_ids.append(pid)
            places.append(
                {
                    "tenant_id": tid,
                    "id": pid,
                    "org_unit_id": branch_unit,
                    "kind": "store",
                    "name": f"{branch} {store}",
                    "address": f"Seoul, {branch}",
                    "location": point(slat, slon),
                    "tags": ["store"],
                    "external_id": f"STORE-{b + 1}{s + 1}",
                    "attributes": {},
                }
            )
            for minor in (1, 2):
                beacons.append(
                    {
                        "tenant_id": tid,
                        "id": uuid7(),
                        "place_id": pid,
                        "protocol": "ibeacon",
                        "name": f"{branch} {store} #{minor}",
                        "ibeacon_uuid": DEMO_BEACON_UUID,
                        "major": (b + 1) * 10 + s + 1,
                        "minor": minor,
                        "tx_power": -59,
                    }
                )
            wifi.append(
                {
                    "tenant_id": tid,
                    "id": uuid7(),
                    "place_id": pid,
                    "bssid": ":".join(f"{rng.randint(0, 255):02x}" for _ in range(6)),
                    "ssid": f"{branch}-{store}".replace(" ", ""),
                }
            )
            fences.append(
                {
                    "tenant_id": tid,
                    "id": uuid7(),
                    "org_unit_id": branch_unit,
                    "name": f"{branch} {store}",
                    "tag": "store",
                    "external_id": f"STORE-{b + 1}{s + 1}",
                    "shape": "circle",
                    "center": point(slat, slon),
                    "radius_m": 60.0,
                    "geom": point(slat, slon),
                    "dwell_s": 120,
                    "exit_buffer_m": 25.0,
                    "place_id": pid,
                    "metadata_": {},
                }
            )
        for a in range(4):
            alat, alon = _jitter(rng, lat, lon, 1000)
            pid = uuid7()
            sq = _square(alat, alon, 120)
            places.append(
                {
                    "tenant_id": tid,
                    "id": pid,
                    "org_unit_id": branch_team,
                    "kind": "apartment_complex",
                    "name": f"{branch} Hills {a + 1}",
                    "address": f"Seoul, {branch}",
                    "location": point(alat, alon),
                    "footprint": _wkt_polygon(sq, multi=True),
                    "household_count": rng.randint(300, 2400),
                    "tags": [],
                    "external_id": f"APT-{b + 1}{a + 1}",
                    "attributes": {"built": rng.randint(1985, 2022)},
                }
            )
            fences.append(
                {
                    "tenant_id": tid,
                    "id": uuid7(),
                    "org_unit_id": branch_team,
                    "name": f"{branch} Hills {a + 1}",
                    "tag": "apartment",
                    "external_id": f"APT-{b + 1}{a + 1}",
                    "shape": "polygon",
                    "center": None,
                    "radius_m": None,
                    "geom": _wkt_polygon(sq, multi=False),
                    "dwell_s": 300,
                    "exit_buffer_m": 20.0,
                    "place_id": pid,
                    "metadata_": {},
                }
            )
        for w in range(2):
            wlat, wlon = _jitter(rng, lat, lon, 800)
            places.append(
                {
                    "tenant_id": tid,
                    "id": uuid7(),
                    "org_unit_id": branch_team,
                    "kind": "workplace",
                    "name": f"{branch} Tower {w + 1}",
                    "address": f"Seoul, {branch}",
                    "location": point(wlat, wlon),
                    "attributes": {"employees": rng.randint(200, 3000)},
                    "tags": [],
                    "external_id": f"WORK-{b + 1}{w + 1}",
                }
            )
    for c in customers[:200]:
        fences.append(
            {
                "tenant_id": tid,
                "id": uuid7(),
                "org_unit_id": c["org_unit_id"],
                "name": f"Home of {c['name']}",
                "tag": "customer",
                "external_id": c["external_id"],
                "shape": "circle",
                "center": c["location"],
                "radius_m": 50.0,
                "geom": c["location"],
                "dwell_s": 300,
                "exit_buffer_m": 20.0,
                "customer_id": c["id"],
                "metadata_": {},
            }
        )
    await session.execute(insert(Place), places)
    await session.execute(insert(Beacon), beacons)
    await session.execute(insert(WifiAccessPoint), wifi)
    await session.execute(insert(Geofence), fences)
    await session.execute(
        update(Geofence)
        .where(Geofence.tenant_id == tid, Geofence.shape == "circle")
        .values(geom=circle_area(Geofence.center, Geofence.radius_m))
    )
    key, prefix, digest = new_api_key()
    await session.execute(
        insert(StoreApp),
        [
            {
                "tenant_id": tid,
                "id": uuid7(),
                "name": "Partner store app",
                "org_unit_id": hq.id,
                "store_ids": store_ids,
                "key_prefix": prefix,
                "key_hash": digest,
            }
        ],
    )
    return DemoTenant(
        tid,
        DEMO_SLUG,
        key,
        counts={
            "org_units": len(units) + 1,
            "users": len(users) + 1,
            "agents": len(agents),
            "devices": len(devices),
            "agent_profiles": len(profiles),
            "customers": len(customers),
            "places": len(places),
            "beacons": len(beacons),
            "wifi_access_points": len(wifi),
            "geofences": len(fences),
            "territories": len(territories),
        },
    )
