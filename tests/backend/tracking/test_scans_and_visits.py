"""Beacon and Wi-Fi scans, manual check-in / check-out, outcomes, and who sees visits."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.backend.tracking.conftest import BSSID, IBEACON, T0, Field
from tests.backend.world import errors_for


def scan(t_s: float, sightings: list[dict[str, Any]]) -> dict[str, Any]:
    return {"time": (T0 + timedelta(seconds=t_s)).isoformat(), "sightings": sightings}


BEACON = {"ibeacon_uuid": IBEACON, "major": 1, "minor": 2}


async def kinds(
    client: AsyncTestClient[Litestar], f: Field, device: str
) -> list[tuple[str, str | None]]:
    items = (
        await client.get("/events", params={"device_id": device}, headers=f.tenant.h("agent"))
    ).json()["items"]
    return [(e["kind"], e["place_id"]) for e in items]


class TestBeacons:
    async def test_enter_then_quiet_exit_and_a_visit(
        self, client: AsyncTestClient[Litestar], field: Field
    ) -> None:
        device = await field.device()
        scans = [scan(i * 5, [{**BEACON, "rssi": -68}]) for i in range(6)]
        scans += [scan(30 + i * 10, []) for i in range(1, 5)]  # scanned, saw nothing, for 40 s
        scans.append(
            scan(100, [{"ibeacon_uuid": IBEACON, "major": 9, "minor": 9, "rssi": -50}])
        )  # unknown beacon
        resp = await client.post(
            "/ingest/beacons",
            json={"device_id": device, "scans": scans},
            headers=field.tenant.h("agent"),
        )
        assert resp.status_code == 200, resp.text
        assert resp.json() == {
            "accepted": 11,
            "duplicates": 0,
            "late": 0,
            "discarded": 0,
            "events": 2,
        }
        # The beacon's sighting of the stay, and the visit it made, started and ended.
        assert sorted(await kinds(client, field, device)) == [
            ("beacon_entered", field.store["id"]),
            ("beacon_exited", field.store["id"]),
            ("visit_ended", field.store["id"]),
            ("visit_started", field.store["id"]),
        ]
        visits = (
            await client.get(
                "/visits", params={"place_id": field.store["id"]}, headers=field.tenant.h("agent")
            )
        ).json()["items"]
        mine = [v for v in visits if v["device_id"] == device]
        assert len(mine) == 1 and mine[0]["source"] == "beacon" and mine[0]["duration_s"] == 25
        again = await client.post(
            "/ingest/beacons",
            json={"device_id": device, "scans": scans[:3]},
            headers=field.tenant.h("agent"),
        )
        assert again.json() == {
            "accepted": 0,
            "duplicates": 3,
            "late": 0,
            "discarded": 0,
            "events": 0,
        }

    async def test_no_scan_is_not_absence(
        self, client: AsyncTestClient[Litestar], field: Field
    ) -> None:
        device = await field.device()
        await client.post(
            "/ingest/beacons",
            json={"device_id": device, "scans": [scan(0, [{**BEACON, "rssi": -60}])]},
            headers=field.tenant.h("agent"),
        )
        # Ten minutes with no scan at all, then one that sees the beacon again: still inside.
        await client.post(
            "/ingest/beacons",
            json={"device_id": device, "scans": [scan(600, [{**BEACON, "rssi": -62}])]},
            headers=field.tenant.h("agent"),
        )
        assert [k for k, _ in await kinds(client, field, device)] == ["beacon_entered"]

    async def test_store_app_sees_who_walked_in(
        self, client: AsyncTestClient[Litestar], field: Field
    ) -> None:
        device = await field.device()
        await client.post(
            "/ingest/beacons",
            json={"device_id": device, "scans": [scan(0, [{**BEACON, "rssi": -60}])]},
            headers=field.tenant.h("agent"),
        )
        app = await field.tenant.post(
            "manager", "/store-apps", {"name": "POS", "store_ids": [field.store["id"]]}
        )
        items = (
            await client.get(
                "/events", params={"kind": "beacon_entered"}, headers={"X-API-Key": app["api_key"]}
            )
        ).json()["items"]
        assert device in {e["device_id"] for e in items}
        assert (
            await client.get(
                "/events", params={"kind": "entered"}, headers={"X-API-Key": app["api_key"]}
            )
        ).json()["items"] == []

    async def test_bad_sightings(self, client: AsyncTestClient[Litestar], field: Field) -> None:
        device = await field.device()
        resp = await client.post(
            "/ingest/beacons",
            json={"device_id": device, "scans": [scan(0, [{"rssi": -60}])]},
            headers=field.tenant.h("agent"),
        )
        assert resp.status_code == 422 and errors_for(resp) == ["scans.0.sightings.0"]


class TestWifi:
    async def test_enter_and_exit(self, client: AsyncTestClient[Litestar], field: Field) -> None:
        device = await field.device()
        scans = [
            scan(0, [{"bssid": BSSID.upper(), "rssi": -60}]),
            scan(30, [{"bssid": BSSID, "rssi": -65}]),
            scan(120, []),
        ]
        resp = await client.post(
            "/ingest/wifi",
            json={"device_id": device, "scans": scans},
            headers=field.tenant.h("agent"),
        )
        assert resp.status_code == 200, resp.text
        assert await kinds(client, field, device) == [
            ("wifi_entered", field.store["id"]),
            ("wifi_exited", field.store["id"]),
        ]
        late = await client.post(
            "/ingest/wifi",
            json={"device_id": device, "scans": [scan(10, [])]},
            headers=field.tenant.h("agent"),
        )
        assert late.json()["late"] == 1 and late.json()["events"] == 0


class TestManualVisits:
    async def test_check_in_out_and_outcome(
        self, client: AsyncTestClient[Litestar], field: Field
    ) -> None:
        h = field.tenant.h("agent")
        body = {
            "customer_id": field.customer["id"],
            "lat": field.customer_lat,
            "lon": field.customer_lon,
            "accuracy_m": 12,
            "at": T0.isoformat(),
        }
        visit = await field.tenant.post("agent", "/visits", body)
        assert (
            visit["source"] == "manual"
            and visit["confidence"] == 1.0
            and visit["departed_at"] is None
        )
        out = await client.post(
            f"/visits/{visit['id']}/check-out",
            json={"at": (T0 + timedelta(minutes=25)).isoformat(), "outcome": "appointment_set"},
            headers=h,
        )
        assert out.status_code == 200, out.text
        assert out.json()["duration_s"] == 1500 and out.json()["outcome"] == "appointment_set"
        twice = await client.post(f"/visits/{visit['id']}/check-out", json={}, headers=h)
        assert twice.status_code == 409 and errors_for(twice) == ["id"]
        note = await client.patch(
            f"/visits/{visit['id']}", json={"outcome": "sale", "note": "signed"}, headers=h
        )
        assert note.json()["outcome"] == "sale"
        bad = await client.patch(f"/visits/{visit['id']}", json={"outcome": "maybe"}, headers=h)
        assert bad.status_code == 422 and errors_for(bad) == ["outcome"]
        assert (await client.delete(f"/visits/{visit['id']}", headers=h)).status_code == 403

    async def test_check_in_needs_one_target(
        self, client: AsyncTestClient[Litestar], field: Field
    ) -> None:
        resp = await client.post(
            "/visits", json={"lat": 0, "lon": 0, "accuracy_m": 5}, headers=field.tenant.h("agent")
        )
        assert resp.status_code == 422
        other = await client.post(
            "/visits",
            json={
                "customer_id": "00000000-0000-7000-8000-000000000000",
                "lat": 0,
                "lon": 0,
                "accuracy_m": 5,
            },
            headers=field.tenant.h("agent"),
        )
        assert other.status_code == 404 and errors_for(other) == ["customer_id"]

    async def test_visits_follow_the_org_tree(
        self, client: AsyncTestClient[Litestar], field: Field
    ) -> None:
        visit = await field.tenant.post(
            "agent", "/visits", {"place_id": field.store["id"], "lat": 0, "lon": 0, "accuracy_m": 5}
        )
        assert (
            await client.get(f"/visits/{visit['id']}", headers=field.tenant.h("manager"))
        ).status_code == 200
        assert (
            await client.get(f"/visits/{visit['id']}", headers=field.tenant.h("agent2"))
        ).status_code == 404
