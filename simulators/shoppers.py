"""Shoppers walking past and into stores, seen by GPS outside and by beacons and Wi-Fi inside.

A panel of phones (devices of one "footfall panel" user) walks by each store along a street
50 m away; some turn in, stay 3-6 minutes (beacon scans every 10 s at about -60 dBm, Wi-Fi
scans every 30 s) and walk on. The walks end at the wall clock's present, so the stores get
their walk-ins as live webhooks. The truth: every store entry (device, store, in, out).
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from simulators.field import iso
from simulators.gps import Canyons, Receiver, offset


@dataclass
class Store:
    id: str
    lat: float
    lon: float
    beacon: dict[str, Any]  # ibeacon_uuid, major, minor
    bssid: str | None


async def shop(
    http: httpx.AsyncClient,
    token: str,
    devices: list[str],
    stores: list[Store],
    seed: int,
    enter_rate: float = 0.6,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    rng = random.Random(f"shoppers:{seed}")
    h = {"authorization": f"Bearer {token}"}
    truth: list[dict[str, Any]] = []
    counts = {"walks": 0, "entries": 0, "points": 0, "scans": 0, "errors": 0}
    now = time.time()
    for n, device in enumerate(devices):
        store = stores[n % len(stores)]
        gps = Receiver(rng, Canyons(), gap_rate=0.0)
        t = now - 12 * 60 + rng.uniform(0, 60)  # so every walk ends before the present
        points, beacons, wifi = [], [], []
        # Along the street, 50 m south of the store, from 300 m west to the door.
        for step in range(0, 11):
            lat, lon = offset(store.lat, store.lon, -50, -150 + 15 * step)
            if (fix := gps.fix(t, lat, lon)) is not None:
                points.append({"client_id": str(uuid.uuid4()), "time": iso(t), **fix})
            t += 12
        entered = rng.random() < enter_rate
        if entered:
            arrived = t
            stay = rng.uniform(180, 360)
            while t < arrived + stay:
                lat, lon = offset(store.lat, store.lon, rng.uniform(-5, 5), rng.uniform(-5, 5))
                if (fix := gps.fix(t, lat, lon)) is not None:
                    points.append({"client_id": str(uuid.uuid4()), "time": iso(t), **fix})
                rssi = -60 + rng.gauss(0, 4)
                beacons.append({"time": iso(t), "sightings": [{**store.beacon, "rssi": rssi}]})
                if store.bssid and len(beacons) % 3 == 0:
                    wifi.append(
                        {"time": iso(t), "sightings": [{"bssid": store.bssid, "rssi": rssi - 5}]}
                    )
                t += 10
            # Out of range: an empty scan says "scanned, saw nothing".
            beacons.append({"time": iso(t), "sightings": []})
            truth.append(
                {"device_id": device, "store_id": store.id, "in": iso(arrived), "out": iso(t)}
            )
            counts["entries"] += 1
        for step in range(0, 11):
            lat, lon = offset(store.lat, store.lon, -50, 15 * step)
            if (fix := gps.fix(t, lat, lon)) is not None:
                points.append({"client_id": str(uuid.uuid4()), "time": iso(t), **fix})
            t += 12
        for path, body in (
            ("/ingest/locations", {"device_id": device, "points": points}),
            ("/ingest/beacons", {"device_id": device, "scans": beacons}),
            ("/ingest/wifi", {"device_id": device, "scans": wifi}),
        ):
            key = "points" if path.endswith("locations") else "scans"
            if not body[key]:
                continue
            resp = await http.post(path, json=body, headers=h)
            counts["errors"] += int(resp.status_code != 200)
            counts["points" if key == "points" else "scans"] += len(body[key])
        counts["walks"] += 1
    return truth, counts
