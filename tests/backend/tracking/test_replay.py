"""Replay: a phone's day, its batches each sent three times in shuffled order, gives exactly
the events and visits of one clean pass.

The day is the simulators' phone (GPS noise, urban-canyon reflections, receiver gaps, an upload
every five minutes of fix time, a stretch offline whose backlog goes up in one batch): from
2 km out to the fenced office (20 minutes), to the fenceless customer (15 minutes), to the
store, lunch, the office again, straight through its fence, the customer again. One device of the agent gets the batches once, in order; another gets every
batch three times, all shuffled together.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from simulators.field import MOVING_EVERY_S, STILL_EVERY_S, STREET_MPS, UPLOAD_EVERY_S
from simulators.gps import Canyons, Receiver, distance_m
from tests.backend.tracking.conftest import (
    LAT,
    LON,
    T0,
    Field,
    at,
    engine_events,
    instant,
    told,
    told_visits,
)

OFFLINE = (40 * 60.0, 75 * 60.0)  # no signal: the backlog goes up when it comes back


def day_of_points(seed: int, f: Field) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    gps = Receiver(rng, Canyons.around((LAT, LON), 2500, 4, seed))
    t0 = T0.timestamp()
    stops = [
        (at(-2000, -500), 0.0),
        ((LAT, LON), 20 * 60.0),  # the fenced office
        ((f.customer_lat, f.customer_lon), 15 * 60.0),  # the fenceless customer
        (at(3000, 0), 10 * 60.0),  # the store
        (at(1500, -1500), 25 * 60.0),  # lunch, nowhere in particular
        ((LAT, LON), 12 * 60.0),  # the office again
        (at(0, -1500), 0.0),  # driving straight through the office's fence ...
        (at(0, 1500), 0.0),
        ((f.customer_lat, f.customer_lon), 8 * 60.0),  # ... to the customer again
        (at(3500, 2500), 0.0),
    ]
    points: list[dict[str, Any]] = []
    t = 0.0

    def emit(lat: float, lon: float) -> None:
        fix = gps.fix(t0 + t, lat, lon)
        if fix is not None:
            time = T0.fromtimestamp(t0 + t, T0.tzinfo).isoformat()
            points.append({"client_id": str(uuid.uuid4()), "time": time, **fix})

    pos = stops[0][0]
    for where, stay in stops[1:]:
        duration = max(60.0, distance_m(pos, where) / STREET_MPS)
        start, t_start = pos, t
        while t < t_start + duration:
            k = (t - t_start) / duration
            emit(start[0] + (where[0] - start[0]) * k, start[1] + (where[1] - start[1]) * k)
            t += MOVING_EVERY_S
        pos, t = where, t_start + duration
        end = t + stay
        while t < end:
            emit(*pos)
            t += STILL_EVERY_S * rng.uniform(0.8, 1.2)
    return points


def batches(points: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """As the phone uploads: every five minutes of fix time, none while offline."""
    t0 = T0.timestamp()
    buffer: list[dict[str, Any]] = []
    last = 0.0
    for p in points:
        buffer.append(p)
        t = T0.fromisoformat(p["time"]).timestamp() - t0
        if t - last >= UPLOAD_EVERY_S and not OFFLINE[0] <= t < OFFLINE[1]:
            yield buffer
            buffer, last = [], t
    if buffer:
        yield buffer


async def upload(
    client: AsyncTestClient[Litestar],
    f: Field,
    device: str,
    batch: list[dict[str, Any]],
    who: str = "agent",
) -> dict[str, Any]:
    resp = await client.post(
        "/ingest/locations",
        json={"device_id": device, "points": batch},
        headers=f.tenant.h(who),
    )
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    assert body["rejected"] == 0, body
    return body


async def outcome(
    client: AsyncTestClient[Litestar], f: Field, device: str, who: str = "agent"
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The device's standing events and visits, by their facts (not by ids or flags). The
    visits' own events may carry corrections made on the way; what a receiver of all of them
    knows in the end is the visits as they are."""
    h = f.tenant.h(who)
    events = await client.get("/events", params={"device_id": device, "limit": 500}, headers=h)
    assert events.status_code == 200
    visits = await client.get(
        "/visits", params={"agent_id": str(f.tenant.users[who]), "limit": 500}, headers=h
    )
    assert visits.status_code == 200
    mine = [v for v in visits.json()["items"] if v["device_id"] == device]
    said = told(events.json()["items"])
    assert told_visits(events.json()["items"]) == sorted(
        (instant(v["arrived_at"]), instant(v["departed_at"]), v["customer_id"], v["place_id"])
        for v in mine
    ), said
    return (
        sorted(
            (e["kind"], e["occurred_at"], e["fence_id"], e["place_id"], e["customer_id"])
            for e in engine_events(events.json()["items"])
        ),
        sorted(
            (v["source"], v["arrived_at"], v["departed_at"], v["customer_id"], v["place_id"])
            for v in mine
        ),
    )


async def test_three_shuffled_passes_give_the_events_of_one_clean_pass(
    client: AsyncTestClient[Litestar], field: Field
) -> None:
    day = list(batches(day_of_points(11, field)))
    assert len(day) >= 6 and max(len(b) for b in day) > 60  # a day, with its offline backlog
    # Two agents: one agent's two phones at one customer at once would be one stay, one visit.
    clean, replayed = await field.device(), await field.device("agent2")
    for batch in day:
        await upload(client, field, clean, batch)
    expected_events, expected_visits = await outcome(client, field, clean)
    kinds = {e[0] for e in expected_events}
    assert {"entered", "dwelled", "exited", "sighting_started", "sighting_ended"} <= kinds
    assert {v[0] for v in expected_visits} == {"geofence", "stop"}

    sends = [b for b in day for _ in range(3)]
    random.Random(5).shuffle(sends)
    accepted = duplicates = 0
    for batch in sends:
        body = await upload(client, field, replayed, batch, "agent2")
        accepted += body["accepted"] + body["flagged"]  # kept, either way
        duplicates += body["duplicates"]
    points = sum(len(b) for b in day)
    assert (accepted, duplicates) == (points, 2 * points)
    got_events, got_visits = await outcome(client, field, replayed, "agent2")
    print(
        f"replay: {len(day)} batches, {points} points; one pass {len(expected_events)} events"
        f" and {len(expected_visits)} visits; three shuffled passes {len(got_events)} events"
        f" and {len(got_visits)} visits"
    )
    assert got_events == expected_events, set(got_events) ^ set(expected_events)
    assert got_visits == expected_visits, set(got_visits) ^ set(expected_visits)
