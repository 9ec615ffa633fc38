"""Load generators for the ingest benchmark: many phones uploading batches, and a steady
trickle of single points for latency. HTTP only, like a phone.

Run as a module: `python -m simulators.load batches|latency --spec FILE --out FILE`.
The spec (JSON) names the base URL and, per device, its id, a bearer token and a start
position; the result (JSON) holds counts and latencies.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import random
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx


@dataclass
class Phone:
    device_id: str
    token: str
    lat: float
    lon: float
    t: float  # epoch seconds of the next fix
    rng: random.Random

    def walk(self, n: int, step_s: float = 5.0, live: bool = False) -> list[dict[str, Any]]:
        """The next n fixes of a person walking and pausing, `step_s` apart in time.

        Recorded fixes carry their time; a live fix is dated by its age (0) at send time.
        """
        out = []
        for _ in range(n):
            if self.rng.random() < 0.7:
                heading = self.rng.uniform(0, 2 * math.pi)
                dist = self.rng.uniform(0, 8)
                self.lat += dist * math.cos(heading) / 111_195
                self.lon += dist * math.sin(heading) / (111_195 * math.cos(math.radians(self.lat)))
            self.t += step_s
            when = (
                {"age_s": 0.0}
                if live
                else {"time": datetime.fromtimestamp(self.t, UTC).isoformat()}
            )
            out.append(
                {
                    "client_id": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
                    **when,
                    "lat": round(self.lat, 7),
                    "lon": round(self.lon, 7),
                    "accuracy_m": round(self.rng.uniform(4, 25), 1),
                    "speed_mps": round(self.rng.uniform(0, 1.6), 2),
                }
            )
        return out


def phones(spec: dict[str, Any], history_s: float, seed: int = 0) -> list[Phone]:
    """Phones whose recorded history starts `history_s` ago (a working day, uploaded late).

    `seed` must differ between runs against one database, or the client ids repeat and the
    server rightly calls the points duplicates.
    """
    start = time.time() - history_s
    return [
        Phone(
            d["device_id"],
            d["token"],
            d["lat"],
            d["lon"],
            start + i % 60,
            random.Random(seed * 1_000_003 + i),
        )
        for i, d in enumerate(spec["devices"])
    ]


async def post_once(host: str, port: int, path: str, token: str, body: bytes) -> tuple[int, bytes]:
    """One JSON POST on a connection of its own: just enough HTTP/1.1 for it (no httpx
    overhead: the generator must cost far less than the server it measures).

    A phone uploads every few minutes and holds no connection in between, so every request
    comes on a connection of its own, as from a phone. (Holding a few keep-alive
    connections would also pin each to whichever API worker accepted it: on two workers the
    run measured how the connections happened to split, 8,300 to 12,900 points/s.)
    """
    reader, writer = await asyncio.open_connection(host, port)
    try:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        ).encode()
        writer.write(head + body)
        status_line = await reader.readline()
        length = 0
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return int(status_line.split()[1]), await reader.readexactly(length)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def batches(
    spec: dict[str, Any], seconds: float, batch: int, concurrency: int, round_no: int = 0
) -> dict[str, Any]:
    """Closed loop: `concurrency` uploaders, each taking the next phone's next batch.

    Round n's history starts n * 2 h later than round 0's, so later rounds continue the
    phones' days rather than re-sending older (late) points.
    """
    fleet = phones(spec, history_s=8 * 3600 - round_no * 2 * 3600, seed=round_no)
    # Bodies are built before the clock starts so the generator spends its time sending.
    rounds = max(2, int(seconds * 30000 / max(1, batch * len(fleet))) + 2)
    bodies = [
        (p.token, json.dumps({"device_id": p.device_id, "points": p.walk(batch)}).encode())
        for _ in range(rounds)
        for p in fleet
    ]
    accepted = sent = errors = events = 0
    latencies: list[float] = []
    next_body = 0
    url = httpx.URL(spec["base_url"])
    host, port = url.host, url.port or 80

    async def worker() -> None:
        nonlocal next_body, accepted, sent, errors, events
        while time.perf_counter() < stop_at and next_body < len(bodies):
            token, body = bodies[next_body]
            next_body += 1
            t0 = time.perf_counter()
            status, raw = await post_once(host, port, "/ingest/locations", token, body)
            latencies.append(time.perf_counter() - t0)
            sent += batch
            if status == 200:
                doc = json.loads(raw)
                accepted += doc["accepted"] + doc["flagged"]
                events += doc["events"]
            else:
                errors += 1

    stop_at = time.perf_counter() + seconds
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {
        "seconds": elapsed,
        "points_sent": sent,
        "points_stored": accepted,
        "requests": len(latencies),
        "errors": errors,
        "events": events,
        "request_p50_ms": statistics.median(latencies) * 1000 if latencies else None,
    }


async def latency(spec: dict[str, Any], seconds: float, rate: float) -> dict[str, Any]:
    """Open loop: single-point requests at a steady `rate` per second; latency of each,
    measured from when the request was due (so queueing in the generator counts too)."""
    own = spec.get("latency_devices")  # phones of their own, so none goes back in time
    fleet = phones({"devices": own} if own else spec, history_s=0, seed=999)
    total = int(seconds * rate)
    latencies: list[float] = []
    errors = 0
    url = httpx.URL(spec["base_url"])
    host, port = url.host, url.port or 80

    async def one(i: int, due: float) -> None:
        nonlocal errors
        p = fleet[i % len(fleet)]
        body = json.dumps({"device_id": p.device_id, "points": p.walk(1, live=True)}).encode()
        try:
            status, _ = await asyncio.wait_for(
                post_once(host, port, "/ingest/locations", p.token, body), 60
            )
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            status = 0
        latencies.append(time.perf_counter() - due)
        if status != 200:
            errors += 1

    tasks = []
    start = time.perf_counter()
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    lat_ms = sorted(x * 1000 for x in latencies)
    return {
        "requests": len(lat_ms),
        "errors": errors,
        "rate": rate,
        "p50_ms": lat_ms[len(lat_ms) // 2] if lat_ms else None,
        "p99_ms": lat_ms[min(len(lat_ms) - 1, int(len(lat_ms) * 0.99))] if lat_ms else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="simulators.load")
    parser.add_argument("mode", choices=["batches", "latency"])
    parser.add_argument("--spec", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--round", type=int, default=0, dest="round_no")
    args = parser.parse_args(argv)
    with open(args.spec) as f:
        spec = json.load(f)
    if args.mode == "batches":
        result = asyncio.run(
            batches(spec, args.seconds, args.batch, args.concurrency, args.round_no)
        )
    else:
        result = asyncio.run(latency(spec, args.seconds, args.rate))
    with open(args.out, "w") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
