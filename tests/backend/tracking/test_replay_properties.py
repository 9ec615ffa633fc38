"""The engine's replay properties (tests/geofence/test_properties.py: any arrival order,
re-sending, same-time fixes) through the API, on PostgreSQL and PostGIS: the points of a
hypothesis-drawn track, sent in shuffled batches with some sent again, give the presence
events the engine gives in memory for the same points in order."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar import Litestar
from litestar.testing import AsyncTestClient

from geofence.types import Fix, Kind
from tests.backend.world import Tenant
from tests.geofence.helpers import LAT0, LON0, fix
from tests.geofence.test_properties import FENCES, batches, in_order, tracks

T0 = (datetime.now(UTC) - timedelta(days=3)).replace(microsecond=0)
PRESENCE = (Kind.ENTERED, Kind.DWELLED, Kind.EXITED)


@pytest_asyncio.fixture(scope="module")
async def fences(tenant: Tenant) -> dict[str, str]:
    """The property tests' three circles in the tenant (the door one around a customer):
    fence id -> the engine's name for it."""
    names = {}
    for f in FENCES:
        body: dict[str, Any] = {
            "name": f"property {f.rule.id}",
            "circle": {"lat": f.lat, "lon": f.lon, "radius_m": f.radius_m},
            "dwell_s": f.rule.dwell_s,
            "exit_buffer_m": f.rule.exit_buffer_m,
        }
        if f.rule.hold:
            customer = await tenant.post(
                "manager",
                "/customers",
                {"name": "door", "lat": LAT0, "lon": LON0, "status": "customer"},
            )
            body["customer_id"] = customer["id"]
        fence = await tenant.post("manager", "/geofences", body)
        names[fence["id"]] = f.rule.id
    return names


def as_point(f: Fix, rank: dict[str, int], base: int) -> dict[str, Any]:
    """The fix as the phone sends it; its client id a UUID of this example's (`base`) that
    sorts as its name does (the engine breaks ties between same-time fixes of one accuracy
    by client id)."""
    return {
        "client_id": str(uuid.UUID(int=base + rank[f.client_id])),
        "time": (T0 + timedelta(seconds=f.t)).isoformat(),
        "lat": f.lat,
        "lon": f.lon,
        "accuracy_m": f.accuracy_m,
        "mock": f.mock,
    }


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(tracks(), st.integers(0, 10_000))
async def test_shuffled_and_resent_batches_give_the_engines_events(
    client: AsyncTestClient[Litestar],
    tenant: Tenant,
    fences: dict[str, str],
    points: list[Fix],
    seed: int,
) -> None:
    expected = sorted(
        (str(e.kind), e.subject, round(e.t, 3)) for e in in_order(points) if e.kind in PRESENCE
    )
    device = (await tenant.device("agent"))["id"]
    h = tenant.h("agent")
    sends = batches(points, seed)
    rng = random.Random(seed)
    sends += [b for b in sends if rng.random() < 0.3]  # some sent again (a retry)
    rank = {c: k for k, c in enumerate(sorted(f.client_id for f in points))}
    base = uuid.uuid4().int >> 64 << 64  # a phone's ids are its own, example to example
    for batch in sends:
        r = await client.post(
            "/ingest/locations",
            json={"device_id": device, "points": [as_point(f, rank, base) for f in batch]},
            headers=h,
        )
        assert r.status_code == 200, r.text
    got = await client.get(
        "/events", params={"device_id": device, "limit": 500}, headers=tenant.h("admin")
    )
    assert got.status_code == 200, got.text
    recorded = sorted(
        (
            e["kind"],
            fences[e["fence_id"]],
            round((datetime.fromisoformat(e["occurred_at"]) - T0).total_seconds(), 3),
        )
        for e in got.json()["items"]
        if e["kind"] in PRESENCE and e["fence_id"] in fences
    )
    assert recorded == expected


async def test_an_event_retracted_and_implied_again_stands(
    client: AsyncTestClient[Litestar], tenant: Tenant, fences: dict[str, str]
) -> None:
    """A stay recorded, undone by a late point (it began earlier), then restored by a later
    batch that shows that point was only passing (found by the property above: the restored
    events kept their retraction, their ids being the same). Each stage against the engine in
    memory for the points so far."""
    stay = [fix(100 + i, 1000 + 10 * i, (i % 3) * 2.0, acc=5.0) for i in range(31)]
    passing = [fix(1, 500, 0.0, acc=5.0)]
    away = [fix(2, 600, 800.0, acc=5.0), fix(3, 700, 800.0, acc=5.0)]
    device = (await tenant.device("agent"))["id"]
    rank = {
        f.client_id: k
        for k, f in enumerate(sorted(stay + passing + away, key=lambda f: f.client_id))
    }
    base = uuid.uuid4().int >> 64 << 64
    sent: list[Fix] = []
    stages = []
    for batch in (stay, passing, away):
        sent += batch
        r = await client.post(
            "/ingest/locations",
            json={"device_id": device, "points": [as_point(f, rank, base) for f in batch]},
            headers=tenant.h("agent"),
        )
        assert r.status_code == 200, r.text
        got = await client.get(
            "/events", params={"device_id": device, "limit": 500}, headers=tenant.h("admin")
        )
        recorded = sorted(
            (
                e["kind"],
                fences[e["fence_id"]],
                (datetime.fromisoformat(e["occurred_at"]) - T0).total_seconds(),
            )
            for e in got.json()["items"]
            if e["kind"] in PRESENCE and e["fence_id"] in fences
        )
        expected = sorted(
            (str(e.kind), e.subject, e.t) for e in in_order(sent) if e.kind in PRESENCE
        )
        assert recorded == expected
        stages.append(expected)
    assert stages[0] == stages[2] != stages[1]  # undone, then restored
