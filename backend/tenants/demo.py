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
from backend.tenants.demo_data import (
    BRANCHES,
    GIVEN,
    HOUSEHOLD,
    INCOME,
    LIFE_STAGE,
    LIFESTYLE,
    STORES,
    SURNAMES,
)
from backend.tenants.services import create_tenant

DEMO_SLUG = "hanbit-life"
DEMO_PASSWORD = "fieldsense-demo"  # noqa: S105 (demo data, printed at start)
DEMO_BEACON_UUID = uuid.UUID("f7826da6-4fa2-4e98-8024-bc5b71e0893e")


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


@dataclass
class _Seed:
    """What the phases of the demo seed share: the tenant, one random stream (drawn from in
    the same order every time, so the demo is the same every time), and the rows made so
    far."""

    tid: uuid.UUID
    rng: random.Random
    pw_hash: str
    units: list[dict[str, Any]] = field(default_factory=list)
    users: list[dict[str, Any]] = field(default_factory=list)
    teams: list[tuple[uuid.UUID, float, float, int]] = field(
        default_factory=list
    )  # id, lat, lon, branch
    agents: list[tuple[dict[str, Any], tuple[uuid.UUID, float, float, int]]] = field(
        default_factory=list
    )
    places: list[dict[str, Any]] = field(default_factory=list)
    beacons: list[dict[str, Any]] = field(default_factory=list)
    wifi: list[dict[str, Any]] = field(default_factory=list)
    fences: list[dict[str, Any]] = field(default_factory=list)
    store_ids: list[uuid.UUID] = field(default_factory=list)

    def unit(
        self, name: str, kind: str, parent: uuid.UUID, parent_path: list[uuid.UUID]
    ) -> dict[str, Any]:
        uid = uuid7()
        row = {"tenant_id": self.tid, "id": uid, "name": name, "kind": kind,
               "parent_id": parent, "path": [*parent_path, uid]}  # fmt: skip
        self.units.append(row)
        return row

    def person(self, role: str, org_unit_id: uuid.UUID) -> dict[str, Any]:
        name = f"{self.rng.choice(SURNAMES)} {self.rng.choice(GIVEN)}"
        row = {"tenant_id": self.tid, "id": uuid7(), "email": _email(name, len(self.users) + 1),
               "name": name, "role": role, "org_unit_id": org_unit_id,
               "password_hash": self.pw_hash,
               # A Seoul insurer's managers read Korean (backend/i18n); agents, their phones'.
               "locale": "ko" if role == "manager" else None}  # fmt: skip
        self.users.append(row)
        return row


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
    hq = created.hq
    created.tenant.settings = {"timezone": "Asia/Seoul"}  # a Seoul insurer's days
    seed = _Seed(created.tenant.id, rng, await to_thread.run_sync(hash_password, DEMO_PASSWORD))
    _org(seed, hq.id)
    await session.execute(insert(OrgUnit), seed.units)
    await session.execute(insert(User), seed.users)
    devices = _devices(seed)
    await session.execute(insert(Device), devices)
    profiles = _profiles(seed)
    await session.execute(insert(AgentProfile), profiles)
    territories = _territories(seed)
    await session.execute(insert(Territory), territories)
    customers = _customers(seed, n_customers)
    await session.execute(insert(Customer), customers)
    for b, (_region, branch, lat, lon) in enumerate(BRANCHES):
        _stores(seed, b, branch, lat, lon)
        _apartments(seed, b, branch, lat, lon)
        _workplaces(seed, b, branch, lat, lon)
    seed.fences += [_customer_fence(seed.tid, c) for c in customers[:200]]
    await session.execute(insert(Place), seed.places)
    await session.execute(insert(Beacon), seed.beacons)
    await session.execute(insert(WifiAccessPoint), seed.wifi)
    await session.execute(insert(Geofence), seed.fences)
    await session.execute(
        update(Geofence)
        .where(Geofence.tenant_id == seed.tid, Geofence.shape == "circle")
        .values(geom=circle_area(Geofence.center, Geofence.radius_m))
    )
    key = await _store_app(session, seed, hq.id)
    return DemoTenant(
        seed.tid,
        DEMO_SLUG,
        key,
        counts={
            "org_units": len(seed.units) + 1,
            "users": len(seed.users) + 1,
            "agents": len(seed.agents),
            "devices": len(devices),
            "agent_profiles": len(profiles),
            "customers": len(customers),
            "places": len(seed.places),
            "beacons": len(seed.beacons),
            "wifi_access_points": len(seed.wifi),
            "geofences": len(seed.fences),
            "territories": len(territories),
        },
    )


def _org(seed: _Seed, hq: uuid.UUID) -> None:
    """HQ's manager, then per branch its region (once), the branch and two teams, each with
    a manager; then the agents, 20 in all."""
    regions: dict[str, uuid.UUID] = {}
    seed.person("manager", hq)
    for b, (region, branch, lat, lon) in enumerate(BRANCHES):
        if region not in regions:
            r = seed.unit(f"{region} Region", "region", hq, [hq])
            regions[region] = r["id"]
            seed.person("manager", r["id"])
        region_row = next(u for u in seed.units if u["id"] == regions[region])
        br = seed.unit(f"{branch} Branch", "branch", region_row["id"], region_row["path"])
        seed.person("manager", br["id"])
        for t, side in enumerate(("North", "South")):
            team = seed.unit(f"{branch} {side} Team", "team", br["id"], br["path"])
            tlat = lat + (0.006 if t == 0 else -0.006)
            seed.teams.append((team["id"], tlat, lon, b))
            seed.person("manager", team["id"])
    agents_per_team = [3, 3, 2, 3, 2, 2, 3, 2]  # 20 agents
    for team_row, k in zip(seed.teams, agents_per_team, strict=True):
        for _ in range(k):
            seed.agents.append((seed.person("agent", team_row[0]), team_row))


def _devices(seed: _Seed) -> list[dict[str, Any]]:
    return [
        {
            "tenant_id": seed.tid,
            "id": uuid7(),
            "user_id": a["id"],
            "name": f"{a['name']}'s phone",
            "platform": seed.rng.choice(["android", "ios"]),
            "identifier": f"demo-device-{i:03d}",
        }
        for i, (a, _) in enumerate(seed.agents, start=1)
    ]


def _profiles(seed: _Seed) -> list[dict[str, Any]]:
    """Every agent starts the day near their team's office: plans work out of the box."""
    profiles = []
    for agent_row, (_team, lat, lon, _b) in seed.agents:
        start_lat, start_lon = _jitter(seed.rng, lat, lon, 400)
        profiles.append(
            {
                "tenant_id": seed.tid,
                "user_id": agent_row["id"],
                "settings": {
                    "start": {"lat": start_lat, "lon": start_lon},
                    "end": None,
                    "shift_start": "09:00:00",
                    "shift_end": "18:00:00",
                    "lunch": {"earliest": "11:30:00", "latest": "13:30:00", "minutes": 60},
                    "mode": seed.rng.choice(["car", "car", "transit"]),
                    "max_stops": None,
                    "timezone": "Asia/Seoul",
                },
            }
        )
    return profiles


def _territories(seed: _Seed) -> list[dict[str, Any]]:
    return [
        {
            "tenant_id": seed.tid,
            "id": uuid7(),
            "org_unit_id": team_id,
            "agent_id": None,
            "name": "Territory",
            "geom": _wkt_polygon(_square(lat, lon, 1400), multi=True),
        }
        for team_id, lat, lon, _b in seed.teams
    ]


def _customers(seed: _Seed, n: int) -> list[dict[str, Any]]:
    rng = seed.rng
    now = datetime.now(UTC).replace(microsecond=0)
    customers = []
    for i in range(n):
        agent, (team_id, lat, lon, _b) = seed.agents[i % len(seed.agents)]
        clat, clon = _jitter(rng, lat, lon, 900)
        status = rng.choices(["customer", "prospect", "dormant"], weights=[55, 35, 10])[0]
        hours: list[dict[str, Any]] = []
        if rng.random() < 0.3:
            start = rng.choice(["09:00", "10:00", "13:00", "14:00"])
            end = {"09:00": "12:00", "10:00": "12:00", "13:00": "17:00", "14:00": "18:00"}[start]
            hours = [{"days": [0, 1, 2, 3, 4], "start": start, "end": end}]
        customers.append(
            {
                "tenant_id": seed.tid,
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
    return customers


def _stores(seed: _Seed, b: int, branch: str, lat: float, lon: float) -> None:
    """Three stores of the branch, each with two beacons, an access point and a 60 m fence."""
    rng = seed.rng
    branch_unit = next(u for u in seed.units if u["id"] == seed.teams[2 * b][0])["parent_id"]
    for s, store in enumerate(STORES[:3]):
        slat, slon = _jitter(rng, lat, lon, 700)
        pid = uuid7()
        seed.store_ids.append(pid)
        seed.places.append(
            {
                "tenant_id": seed.tid,
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
            seed.beacons.append(
                {
                    "tenant_id": seed.tid,
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
        seed.wifi.append(
            {
                "tenant_id": seed.tid,
                "id": uuid7(),
                "place_id": pid,
                "bssid": ":".join(f"{rng.randint(0, 255):02x}" for _ in range(6)),
                "ssid": f"{branch}-{store}".replace(" ", ""),
            }
        )
        seed.fences.append(
            {
                "tenant_id": seed.tid,
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


def _apartments(seed: _Seed, b: int, branch: str, lat: float, lon: float) -> None:
    """Four apartment complexes near the branch, each with its footprint as a fence."""
    rng, branch_team = seed.rng, seed.teams[2 * b][0]
    for a in range(4):
        alat, alon = _jitter(rng, lat, lon, 1000)
        pid = uuid7()
        sq = _square(alat, alon, 120)
        seed.places.append(
            {
                "tenant_id": seed.tid,
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
        seed.fences.append(
            {
                "tenant_id": seed.tid,
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


def _workplaces(seed: _Seed, b: int, branch: str, lat: float, lon: float) -> None:
    rng = seed.rng
    for w in range(2):
        wlat, wlon = _jitter(rng, lat, lon, 800)
        seed.places.append(
            {
                "tenant_id": seed.tid,
                "id": uuid7(),
                "org_unit_id": seed.teams[2 * b][0],
                "kind": "workplace",
                "name": f"{branch} Tower {w + 1}",
                "address": f"Seoul, {branch}",
                "location": point(wlat, wlon),
                "attributes": {"employees": rng.randint(200, 3000)},
                "tags": [],
                "external_id": f"WORK-{b + 1}{w + 1}",
            }
        )


def _customer_fence(tid: uuid.UUID, c: dict[str, Any]) -> dict[str, Any]:
    """A 50 m circle around a customer's home."""
    return {
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


async def _store_app(session: AsyncSession, seed: _Seed, hq: uuid.UUID) -> str:
    """The partner store app, seeing every store; its key (shown once)."""
    key, prefix, digest = new_api_key()
    await session.execute(
        insert(StoreApp),
        [
            {
                "tenant_id": seed.tid,
                "id": uuid7(),
                "name": "Partner store app",
                "org_unit_id": hq,
                "store_ids": seed.store_ids,
                "key_prefix": prefix,
                "key_hash": digest,
            }
        ],
    )
    return key
