"""Batch fence matching (`match_fences`, migration 0014) against the brute-force answer.

The engine needs a point's signed distance to every fence it is inside, in the exit buffer
of, or within the accuracy of; anything farther means "outside by more than the threshold".
The matcher probes the index once per stretch of the track and measures only pairs whose
boxes overlap. Here every point is also measured against every fence of the tenant with
PostGIS directly: the matcher must return exactly the pairs within reach, with the same
distances, whatever the track's shape (a walk, a drive, a jump across the city), the
fence's shape and buffer, the latitude (near the pole a degree of longitude is short), and
never a fence of another tenant in the same place.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest_asyncio

from backend.db.tenancy import APP_ROLE, TENANT_SETTING
from backend.tracking.matching import match_fences, stretches
from geofence.types import Fix

MAX_ACC = 150.0
M_PER_DEG = 111_195.0
PLACES = [(37.5665, 126.978), (-33.87, 151.21), (69.65, 18.96), (88.7, 10.0), (0.0, -78.5)]

BRUTE = """
SELECT p.i, f.id,
       CASE WHEN f.shape = 'circle'
                 THEN ST_Distance(f.center, p.g::geography, false) - f.radius_m
            WHEN ST_Intersects(f.geom, p.g)
                 THEN -ST_Distance(ST_Boundary(f.geom)::geography, p.g::geography, false)
            ELSE ST_Distance(f.geom::geography, p.g::geography, false) END AS d,
       f.exit_buffer_m
FROM (SELECT (n - 1)::int AS i, ST_SetSRID(ST_MakePoint(lon, lat), 4326) AS g
      FROM unnest($2::float8[], $3::float8[]) WITH ORDINALITY AS u(lat, lon, n)) p
CROSS JOIN geofences f WHERE f.tenant_id = $1
"""


def _offset(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    lat2 = lat + north_m / M_PER_DEG
    return lat2, lon + east_m / (M_PER_DEG * max(math.cos(math.radians(lat2)), 1e-6))


async def _tenant(db: asyncpg.Connection, rng: random.Random) -> uuid.UUID:
    tid, unit = uuid.uuid4(), uuid.uuid4()
    await db.execute(
        "INSERT INTO tenants (id, slug, name) VALUES ($1, $2, 'near')", tid, f"near-{tid.hex[:8]}"
    )
    await db.execute(
        "INSERT INTO org_units (tenant_id, id, name, kind, path) VALUES ($1, $2, 'HQ', 'hq', $3)",
        tid,
        unit,
        [unit],
    )
    for lat0, lon0 in PLACES:
        for k in range(40):
            lat, lon = _offset(lat0, lon0, rng.uniform(-800, 800), rng.uniform(-800, 800))
            buffer = rng.choice([0.0, 20.0, 60.0, 400.0])
            size = rng.uniform(30, 300)
            if k % 2:
                await db.execute(
                    """INSERT INTO geofences (tenant_id, id, org_unit_id, name, shape, center,
                                              radius_m, geom, dwell_s, exit_buffer_m)
                       SELECT $1, gen_random_uuid(), $2, 'c', 'circle', g, $5,
                              ST_Buffer(g, $5, 'quad_segs=8')::geometry, 60, $6
                       FROM (SELECT ST_SetSRID(ST_MakePoint($4, $3), 4326)::geography AS g) x""",
                    tid,
                    unit,
                    lat,
                    lon,
                    size,
                    buffer,
                )
            else:  # an L-shaped polygon: concave, so a box is not the shape
                a = _offset(lat, lon, -size, -size)
                b = _offset(lat, lon, size, size)
                c = _offset(lat, lon, 0, 0)
                ring = [
                    (a[1], a[0]),
                    (b[1], a[0]),
                    (b[1], c[0]),
                    (c[1], c[0]),
                    (c[1], b[0]),
                    (a[1], b[0]),
                    (a[1], a[0]),
                ]
                wkt = "POLYGON((" + ",".join(f"{x} {y}" for x, y in ring) + "))"
                await db.execute(
                    """INSERT INTO geofences (tenant_id, id, org_unit_id, name, shape, geom,
                                              dwell_s, exit_buffer_m)
                       VALUES ($1, gen_random_uuid(), $2, 'p', 'polygon',
                               ST_GeomFromText($3, 4326), 60, $4)""",
                    tid,
                    unit,
                    wkt,
                    buffer,
                )
    return tid


def _track(rng: random.Random) -> list[Fix]:
    """Walks, drives and jumps around the places, with accuracies from 3 m to wild."""
    fixes: list[Fix] = []
    for lat0, lon0 in PLACES:
        lat, lon = lat0, lon0
        for _ in range(60):
            step = rng.choice([5.0, 5.0, 80.0, 700.0])
            lat, lon = _offset(lat, lon, rng.uniform(-step, step), rng.uniform(-step, step))
            if abs(lat - lat0) * M_PER_DEG > 1000:  # stay among the fences
                lat, lon = lat0, lon0
            acc = rng.choice([3.0, 12.0, 40.0, 150.0, 900.0])
            fixes.append(Fix(str(uuid.uuid4()), 0.0, lat, lon, acc, None, False, 0.0))
    return fixes


@pytest_asyncio.fixture(scope="module")
async def owner(db_url: str) -> AsyncIterator[asyncpg.Connection]:
    db = await asyncpg.connect(db_url.replace("postgresql+asyncpg://", "postgresql://"))
    yield db
    await db.close()


async def test_matcher_returns_exactly_the_pairs_within_reach(owner: asyncpg.Connection) -> None:
    rng = random.Random(11)
    mine = await _tenant(owner, rng)
    other = await _tenant(owner, rng)  # fences in the same places, never seen
    fixes = _track(rng)
    async with owner.transaction():  # as a request runs it: the app role, one tenant
        await owner.execute(f"SET LOCAL ROLE {APP_ROLE}")
        await owner.execute(f"SELECT set_config('{TENANT_SETTING}', $1, true)", str(mine))
        near = (await match_fences(owner, mine, fixes, MAX_ACC)).near
    brute = await owner.fetch(BRUTE, mine, [f.lat for f in fixes], [f.lon for f in fixes])
    want: dict[tuple[int, str], float] = {}
    for r in brute:
        acc = min(fixes[r["i"]].accuracy_m, MAX_ACC)
        if r["d"] <= max(acc, r["exit_buffer_m"]):
            want[(r["i"], str(r["id"]))] = r["d"]
    got = {(i, fid): d for i, n in enumerate(near) for fid, (d, _rule) in n.items()}
    assert len(want) > 200  # the track does come near fences: inside, buffers, accuracy
    assert any(d < 0 for d in want.values()) and any(d > 100 for d in want.values())
    assert set(got) == set(want)
    for key, d in want.items():
        assert math.isclose(got[key], d, abs_tol=1e-6)
    rows = await owner.fetch("SELECT id FROM geofences WHERE tenant_id = $1", other)
    others = {str(r["id"]) for r in rows}
    assert not others & {fid for _, fid in got}


def test_stretches_cut_where_the_track_leaves_its_box() -> None:
    def fix(lat: float, lon: float) -> Fix:
        return Fix("x", 0.0, lat, lon, 5.0, None, False, 0.0)

    still = [fix(37.5 + i * 1e-5, 127.0) for i in range(100)]  # 100 m of walking
    assert stretches(still) == [0] * 100
    drive = [fix(37.5 + i * 1.2e-3, 127.0) for i in range(10)]  # 133 m a point
    assert stretches(drive) == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3]
    back_and_forth = [fix(37.5, 127.0 + (i % 2) * 2e-3) for i in range(10)]
    assert stretches(back_and_forth) == [0] * 10
    assert stretches([]) == []
