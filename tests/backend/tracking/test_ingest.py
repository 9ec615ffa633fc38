"""Location ingest end to end: HTTP into PostGIS, the engine, events and visits."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.backend.tracking.conftest import (
    T0,
    Field,
    at,
    engine_events,
    point,
    told_visits,
    visit_track,
)
from tests.backend.world import errors_for


async def send(
    client: AsyncTestClient[Litestar],
    f: Field,
    device: str,
    pts: list[dict[str, Any]],
    who: str = "agent",
) -> Any:
    resp = await client.post(
        "/ingest/locations", json={"device_id": device, "points": pts}, headers=f.tenant.h(who)
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


async def events_of(
    client: AsyncTestClient[Litestar], f: Field, device: str, **params: Any
) -> list[dict[str, Any]]:
    resp = await client.get(
        "/events", params={"device_id": device, "limit": 500, **params}, headers=f.tenant.h("agent")
    )
    assert resp.status_code == 200, resp.text
    return resp.json()["items"]


async def timeline_of(client: AsyncTestClient[Litestar], f: Field, device: str) -> Any:
    """The device's points and events since the fixtures' T0."""
    resp = await client.get(
        f"/devices/{device}/timeline", params={"since": T0.isoformat()}, headers=f.tenant.h("agent")
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


def summary(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return sorted((e["kind"], e["occurred_at"]) for e in events)


class TestGeofenceVisit:
    async def test_enter_dwell_exit_and_a_visit(
        self, client: AsyncTestClient[Litestar], field: Field
    ) -> None:
        device = await field.device()
        body = await send(client, field, device, visit_track())
        assert body["accepted"] == 31 and body["duplicates"] == 0 and body["rejected"] == 0, body[
            "results"
        ][:3]
        assert body["watch"] and body["watch"][0]["id"] == field.fence["id"]
        events = await events_of(client, field, device)
        kinds = [e["kind"] for e in events if e["fence_id"] == field.fence["id"]]
        # The fence's own sighting of the stay, and what is said of the visit it made.
        assert sorted(kinds) == sorted(
            ["entered", "sighting_started", "dwelled", "exited", "sighting_ended",
             "visit_started", "visit_ended"]
        )  # fmt: skip
        entered = next(e for e in events if e["kind"] == "entered")
        exited = next(e for e in events if e["kind"] == "exited")
        assert exited["data"]["duration_s"] > 500
        assert entered["visit_id"] == exited["visit_id"]
        visits = (
            await client.get(
                "/visits",
                params={"agent_id": str(field.tenant.users["agent"])},
                headers=field.tenant.h("agent"),
            )
        ).json()["items"]
        visit = next(v for v in visits if v["id"] == entered["visit_id"])
        assert visit["source"] == "geofence" and visit["departed_at"] is not None
        assert visit["duration_s"] == exited["data"]["duration_s"]
        said = {e["kind"]: e for e in events if e["kind"].startswith("visit_")}
        assert {e["visit_id"] for e in said.values()} == {visit["id"]}
        assert said["visit_ended"]["data"]["sources"] == ["geofence"]
        assert said["visit_ended"]["data"]["duration_s"] == visit["duration_s"]

    async def test_resending_changes_nothing(
        self, client: AsyncTestClient[Litestar], field: Field
    ) -> None:
        device = await field.device()
        pts = visit_track()
        await send(client, field, device, pts)
        before = await events_of(client, field, device)
        again = await send(client, field, device, pts[:10])
        assert again["duplicates"] == 10 and again["accepted"] == 0 and again["events"] == 0
        assert await events_of(client, field, device) == before

    async def test_the_watch_list_is_the_same_with_or_without_new_points(
        self, client: AsyncTestClient[Litestar], field: Field
    ) -> None:
        # New points bring the watch list with the fence match; a batch of duplicates asks
        # for it on its own. Both must describe the same fences from the same place.
        device = await field.device()
        pts = visit_track()
        first = await send(client, field, device, pts)
        again = await send(client, field, device, pts)
        assert again["duplicates"] == len(pts) and again["events"] == 0
        assert first["watch"] and again["watch"] == first["watch"]
        ids = [w["id"] for w in first["watch"]]
        assert len(ids) == len(set(ids)) and field.fence["id"] in ids
        assert [w["distance_m"] for w in first["watch"]] == sorted(
            w["distance_m"] for w in first["watch"]
        )
        # The walk ends 600 m from the centre of the 100 m circle.
        office = next(w for w in first["watch"] if w["id"] == field.fence["id"])
        assert office["radius_m"] == 100 and 480 <= office["distance_m"] <= 520

    async def test_the_same_batch_twice_at_once_is_stored_once(
        self, client: AsyncTestClient[Litestar], field: Field
    ) -> None:
        # Duplicates are left out by a look at what is stored, not by ON CONFLICT: the lock on
        # the device's state row must make the second upload wait for the first.
        device = await field.device()
        pts = visit_track()
        one, two = await asyncio.gather(
            send(client, field, device, pts), send(client, field, device, pts)
        )
        assert sorted([one["duplicates"], two["duplicates"]]) == [0, len(pts)]
        assert one["accepted"] + one["flagged"] + two["accepted"] + two["flagged"] == len(pts)
        kinds = sorted(e["kind"] for e in await events_of(client, field, device))
        assert kinds.count("entered") == 1 and kinds.count("exited") == 1

    async def test_offline_backlog_gives_the_events_of_a_clean_pass(
        self, client: AsyncTestClient[Litestar], field: Field
    ) -> None:
        clean, late = await field.device(), await field.device()
        pts = visit_track()
        await send(client, field, clean, pts)
        clean_events = await events_of(client, field, clean)
        # The phone was offline for the first 20 minutes: live points first, then the backlog
        # in three shuffled batches.
        await send(client, field, late, pts[25:])
        backlog = pts[:25]
        random.Random(4).shuffle(backlog)
        for i in range(0, 25, 9):
            await send(client, field, late, backlog[i : i + 9])
        got = await events_of(client, field, late)
        assert summary(engine_events(got)) == summary(engine_events(clean_events))
        # What was said of the visit may have been corrected on the way; where it ends is
        # what a clean pass said.
        assert told_visits(got) == told_visits(clean_events)
        assert any(e["replayed"] for e in got)
        retracted = await events_of(client, field, late, include_retracted=True)
        assert len(retracted) >= len(got)


class TestFenceOfAPlace:
    async def test_its_events_name_the_place_whether_or_not_the_batch_came_near_it(
        self, client: AsyncTestClient[Litestar], field: Field
    ) -> None:
        # A batch's fence match brings each fence's place and customer along; a fence the
        # batch never came near (it is exited from far away) is looked up on its own.
        lat, lon = at(6000)
        fence = await field.tenant.post(
            "manager",
            "/geofences",
            {
                "name": "Shop door",
                "circle": {"lat": lat, "lon": lon, "radius_m": 50},
                "dwell_s": 60,
                "exit_buffer_m": 10,
                "place_id": field.store["id"],
            },
        )
        inside = [point(i * 20, 6000) for i in range(10)]
        away = [point(200 + i * 20, 6800) for i in range(6)]
        whole, split = await field.device(), await field.device()
        await send(client, field, whole, inside + away)
        await send(client, field, split, inside)
        await send(client, field, split, away)
        for device in (whole, split):
            events = [
                e for e in await events_of(client, field, device) if e["fence_id"] == fence["id"]
            ]
            assert {"entered", "exited"} <= {e["kind"] for e in events}, events
            assert {e["place_id"] for e in events} == {field.store["id"]}, events


class TestStopVisit:
    async def test_a_stop_near_a_fenceless_customer_is_a_visit(
        self, client: AsyncTestClient[Litestar], field: Field
    ) -> None:
        device = await field.device()
        pts = []
        for i in range(12):  # 6 minutes within a few metres of the customer
            lat, lon = at(
                random.Random(i).uniform(-5, 5), 3000 + random.Random(i + 99).uniform(-5, 5)
            )
            pts.append({**point(i * 30, 0), "lat": lat, "lon": lon})
        # Leaving: far away for three minutes (a reflection indoors lasts up to two).
        for k in range(14):
            lat, lon = at(800 + 200 * k, 3000)
            pts.append({**point(400 + 15 * k, 0), "lat": lat, "lon": lon})
        await send(client, field, device, pts)
        visits = [
            e for e in await events_of(client, field, device) if e["kind"].startswith("visit_")
        ]
        assert [e["kind"] for e in visits] == ["visit_started", "visit_ended"]
        assert {e["customer_id"] for e in visits} == {field.customer["id"]}
        visit = (
            await client.get(f"/visits/{visits[0]['visit_id']}", headers=field.tenant.h("agent"))
        ).json()
        assert visit["source"] == "stop" and visit["customer_id"] == field.customer["id"]
        assert 300 <= visit["duration_s"] <= 360

    async def test_what_each_point_carries_is_stored_as_sent(
        self, client: AsyncTestClient[Litestar], field: Field, engine: AsyncEngine
    ) -> None:
        # Columns no point of a batch has are sent as one NULL, not as an array of them.
        device = await field.device()
        full = {"speed_mps": 1.5, "heading_deg": 90.0, "altitude_m": 31.0, "battery": 0.8}
        pts = [
            point(0, 2000, **full, provider="gps", mock=False),
            point(10, 2000),
            point(20, 2000, mock=True),
        ]
        bare = [point(40, 2000), point(50, 2000)]
        await send(client, field, device, pts)
        await send(client, field, device, bare)
        cols = "speed_mps, heading_deg, altitude_m, battery, provider, mock"
        async with engine.connect() as conn:
            rows = {
                str(r[0]): tuple(r[1:])
                for r in await conn.execute(
                    text(f"SELECT client_id, {cols} FROM pings WHERE device_id = :d"),  # noqa: S608 - names fixed in the test
                    {"d": device},
                )
            }
        assert rows == {
            pts[0]["client_id"]: (1.5, 90.0, 31.0, 0.8, "gps", False),
            pts[1]["client_id"]: (None, None, None, None, None, False),
            pts[2]["client_id"]: (None, None, None, None, None, True),
            bare[0]["client_id"]: (None, None, None, None, None, False),
            bare[1]["client_id"]: (None, None, None, None, None, False),
        }


class TestFlagsAndBadInput:
    async def test_flags_and_spoofing(
        self, client: AsyncTestClient[Litestar], field: Field
    ) -> None:
        device = await field.device()
        pts = [point(0, 2000), point(10, 2000, mock=True), point(20, 2000, acc=900), point(30, 0)]
        pts.append({**point(40, 0), "lat": 0.0, "lon": 0.0})
        body = await send(client, field, device, pts)
        statuses = [(r["status"], r["reason"]) for r in body["results"]]
        assert statuses == [
            ("accepted", None),
            ("flagged", "mock_location"),
            ("flagged", "low_accuracy"),
            ("accepted", None),
            ("flagged", "zero_island"),
        ]
        kinds = [e["kind"] for e in await events_of(client, field, device)]
        assert kinds.count("spoof_suspected") == 1

    async def test_a_bad_point_is_rejected_alone(
        self, client: AsyncTestClient[Litestar], field: Field
    ) -> None:
        device = await field.device()
        pts = [
            point(0, 2000),
            {**point(10, 2000), "lat": 91},
            {**point(20, 2000), "accuracy_m": "far"},
            point(30, 2000),
        ]
        body = await send(client, field, device, pts)
        assert [r["status"] for r in body["results"]] == [
            "accepted",
            "rejected",
            "rejected",
            "accepted",
        ]
        assert body["results"][1]["field"] == "points.1.lat"
        assert body["results"][2]["field"] == "points.2.accuracy_m"
        timeline = await timeline_of(client, field, device)
        assert len(timeline["points"]) == 2

    async def test_nan_infinity_and_out_of_range(
        self, client: AsyncTestClient[Litestar], field: Field
    ) -> None:
        device = await field.device()
        for bad, fld in (("NaN", "lat"), ("Infinity", "lon"), ("-Infinity", "accuracy_m")):
            p = point(0, 0)
            raw = json.dumps({"device_id": device, "points": [p]}).replace(
                json.dumps(p[fld]), bad, 1
            )
            resp = await client.post(
                "/ingest/locations",
                content=raw,
                headers=field.tenant.h("agent") | {"content-type": "application/json"},
            )
            assert resp.status_code == 422, resp.text
            assert errors_for(resp) == [f"points.0.{fld}"]
        resp = await client.post(
            "/ingest/locations",
            json={"device_id": device, "points": [{**point(0, 0), "lat": 91}]},
            headers=field.tenant.h("agent"),
        )
        assert resp.status_code == 422 and errors_for(resp) == ["points.0.lat"]

    async def test_limits_are_413(self, client: AsyncTestClient[Litestar], field: Field) -> None:
        device = await field.device()
        many = [point(i, 0) for i in range(1001)]
        resp = await client.post(
            "/ingest/locations",
            json={"device_id": device, "points": many},
            headers=field.tenant.h("agent"),
        )
        assert resp.status_code == 413 and "1000" in resp.text
        fat = [{**point(i, 0), "provider": "gps"} for i in range(900)]
        blob = json.dumps({"device_id": device, "points": fat, "pad": "x" * 1_100_000})
        resp = await client.post(
            "/ingest/locations",
            content=blob,
            headers=field.tenant.h("agent") | {"content-type": "application/json"},
        )
        assert resp.status_code == 413 and "1 MiB" in resp.text

    async def test_someone_elses_device(
        self, client: AsyncTestClient[Litestar], field: Field
    ) -> None:
        theirs = await field.device("agent2")
        resp = await client.post(
            "/ingest/locations",
            json={"device_id": theirs, "points": [point(0, 0)]},
            headers=field.tenant.h("agent"),
        )
        assert resp.status_code == 404
        revoked = await field.device()
        await client.patch(
            f"/devices/{revoked}", json={"revoked": True}, headers=field.tenant.h("agent")
        )
        resp = await client.post(
            "/ingest/locations",
            json={"device_id": revoked, "points": [point(0, 0)]},
            headers=field.tenant.h("agent"),
        )
        assert resp.status_code == 403


class TestSameTimeFixes:
    async def test_the_most_accurate_fix_of_one_time_is_kept_whichever_comes_first(
        self, client: AsyncTestClient[Litestar], field: Field
    ) -> None:
        """Issue 23: of two fixes with one time, the first by client id was kept even when
        worse. Here the worse one (83 m out, 58 m accuracy) is uploaded first and the good
        one (3 m from the door, 6.9 m) in a later batch: the later batch replays, and the
        good one is kept, the worse one flagged a duplicate."""
        device = await field.device()
        bad = {**point(600, 83, acc=58), "client_id": str(uuid.UUID(int=1))}
        good = {**point(600, 3, acc=6.9), "client_id": str(uuid.UUID(int=2))}
        first = await send(client, field, device, [point(570, 0), bad])
        assert [r["status"] for r in first["results"]] == ["accepted", "accepted"]
        await send(client, field, device, [good, point(630, 0)])
        timeline = await timeline_of(client, field, device)
        flags = {p["client_id"]: p["flag"] for p in timeline["points"]}
        assert flags[good["client_id"]] is None
        assert flags[bad["client_id"]] == "duplicate"
