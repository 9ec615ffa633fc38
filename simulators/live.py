"""Live streams under load, as apps use them: managers' team streams and agents' own streams
that read server-sent events and reconnect with `Last-Event-ID`, while phones upload at a
steady rate and managers write coaching notes. HTTP only.

Run as a module: `python -m simulators.live --spec FILE --out FILE`. It opens every stream,
prints `ready` once all are open, waits for a line on standard input (the benchmark notes
where the feed stands), then runs: uploads and notes for `seconds`, a quarter of the streams
dropped and reopened with their last id halfway, a few seconds for the last events to
arrive. The result (JSON) holds each stream's event ids in the order received and the
latencies, from an upload's (or a note's) response to the event on each stream.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import random
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from simulators.sse import events, headers


@dataclass
class Clock:
    """When each upload (or note) was sent and answered, to time its events: from the
    answer (`latencies_ms`; an event seen before the client read the answer waited 0) and
    from the request (`from_request_ms`), with the answers' own times (`answers_ms`)."""

    asked: dict[str, float] = field(default_factory=dict)
    answered: dict[str, float] = field(default_factory=dict)
    early: dict[str, list[float]] = field(default_factory=dict)  # seen before the answer
    latencies_ms: list[float] = field(default_factory=list)
    from_request_ms: list[float] = field(default_factory=list)
    answers_ms: list[float] = field(default_factory=list)

    def sent(self, key: str, asked: float) -> None:
        now = time.monotonic()
        self.asked[key], self.answered[key] = asked, now
        self.answers_ms.append((now - asked) * 1000)
        for seen in self.early.pop(key, []):
            self.latencies_ms.append(0.0)
            self.from_request_ms.append((seen - asked) * 1000)

    def seen(self, key: str) -> None:
        now = time.monotonic()
        at = self.answered.get(key)
        if at is None:
            self.early.setdefault(key, []).append(now)
        else:
            self.latencies_ms.append(max(0.0, (now - at) * 1000))
            self.from_request_ms.append((now - self.asked[key]) * 1000)


def key_of(kind: str, body: dict[str, Any]) -> str | None:
    if kind == "position":
        return f"p:{body['device_id']}:{body['data']['fix_at']}"
    if kind == "coaching_note":
        return f"n:{body['data']['note_id']}"
    return None


@dataclass
class Subscriber:
    name: str
    base: str
    path: str
    token: str
    ids: list[int] = field(default_factory=list)
    opened: asyncio.Event = field(default_factory=asyncio.Event)
    drop: asyncio.Event = field(default_factory=asyncio.Event)
    reconnects: int = 0
    failures: int = 0

    async def run(self, http: httpx.AsyncClient, clock: Clock) -> None:
        while True:
            last = str(self.ids[-1]) if self.ids else None
            try:
                req = http.build_request(
                    "GET", self.base + self.path, headers=headers(self.token, last)
                )
                resp = await http.send(req, stream=True)
                if resp.status_code != 200:
                    self.failures += 1
                    await resp.aclose()
                    await asyncio.sleep(1.0)
                    continue
                self.opened.set()
                reader = asyncio.create_task(self._read(resp, clock))
                dropped = asyncio.create_task(self.drop.wait())
                try:
                    await asyncio.wait({reader, dropped}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    reader.cancel()
                    dropped.cancel()
                    # Waited for, not awaited: a cancellation of this task must not be taken
                    # for the reader's own (and swallowed, and the stream opened again).
                    await asyncio.wait({reader, dropped})
                    if not reader.cancelled():
                        reader.exception()  # a read error ends the stream; it reconnects
                    await resp.aclose()
                if self.drop.is_set():
                    self.drop.clear()
                self.reconnects += 1  # dropped, or the server closed it: open it again
            except httpx.HTTPError:
                self.failures += 1
                await asyncio.sleep(0.5)

    async def _read(self, resp: httpx.Response, clock: Clock) -> None:
        async for e in events(resp):
            if e.id is None:
                continue
            self.ids.append(int(e.id))
            key = key_of(e.event, e.json())
            if key is not None:
                clock.seen(key)


@dataclass
class Phone:
    device_id: str
    token: str
    lat: float
    lon: float
    rng: random.Random
    last_t: float = 0.0

    def batch(self, n: int, step_s: float) -> tuple[list[dict[str, Any]], str]:
        """`n` fixes of a walk, `step_s` apart, the newest now (whole milliseconds); and the
        newest's time as the live feed writes it."""
        newest = math.floor(time.time() * 1000) / 1000
        out = []
        for i in range(n):
            t = max(newest - (n - 1 - i) * step_s, self.last_t + 0.001)
            t = round(t, 3)
            heading = self.rng.uniform(0, 2 * math.pi)
            d = 1.2 * step_s
            self.lat += d * math.cos(heading) / 111_195
            self.lon += d * math.sin(heading) / (111_195 * math.cos(math.radians(self.lat)))
            out.append(
                {
                    "client_id": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
                    "time": datetime.fromtimestamp(t, UTC).isoformat(),
                    "lat": round(self.lat, 7),
                    "lon": round(self.lon, 7),
                    "accuracy_m": 10.0,
                }
            )
            self.last_t = t
        at = datetime.fromtimestamp(self.last_t, UTC).isoformat(timespec="milliseconds")
        return out, at.replace("+00:00", "Z")


@dataclass
class Tally:
    uploads: int = 0
    points: int = 0
    upload_errors: int = 0
    notes: int = 0
    note_errors: int = 0


async def _phone(
    http: httpx.AsyncClient, base: str, p: Phone, spec: dict[str, Any], clock: Clock,
    tally: Tally, stop: asyncio.Event,
) -> None:  # fmt: skip
    n = spec["batch"]
    every = len(spec["phones"]) * n / spec["rate"]
    next_at = time.monotonic() + p.rng.uniform(0, every)
    await _until(stop, next_at)
    while not stop.is_set():
        points, newest = p.batch(n, min(1.0, every / n))
        asked = time.monotonic()
        try:
            r = await http.post(
                base + "/ingest/locations",
                json={"device_id": p.device_id, "points": points},
                headers={"Authorization": f"Bearer {p.token}"},
            )
            if r.status_code == 200 and r.json()["accepted"] == n:
                tally.uploads += 1
                tally.points += n
                clock.sent(f"p:{p.device_id}:{newest}", asked)
            else:
                tally.upload_errors += 1
        except httpx.HTTPError:
            tally.upload_errors += 1
        next_at += every
        await _until(stop, next_at)


async def _until(stop: asyncio.Event, at: float) -> None:
    """Wait until `at` (monotonic), or until told to stop."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), max(0.0, at - time.monotonic()))


async def _notes(
    http: httpx.AsyncClient, bases: list[str], spec: dict[str, Any], clock: Clock,
    tally: Tally, stop: asyncio.Event,
) -> None:  # fmt: skip
    writers, rng = spec["notes"], random.Random(11)
    if not writers or spec["notes_per_s"] <= 0:
        return
    every = 1.0 / spec["notes_per_s"]
    day = (datetime.now(UTC) - timedelta(hours=1)).date().isoformat()
    i, next_at = 0, time.monotonic()
    while not stop.is_set():
        w = writers[i % len(writers)]
        i += 1
        asked = time.monotonic()
        try:
            r = await http.post(
                bases[i % len(bases)] + "/coaching-notes",
                json={"agent_id": w["agent_id"], "day": day, "body": f"note {rng.random():.6f}"},
                headers={"Authorization": f"Bearer {w['token']}"},
            )
            if r.status_code == 201:
                tally.notes += 1
                clock.sent(f"n:{r.json()['id']}", asked)
            else:
                tally.note_errors += 1
        except httpx.HTTPError:
            tally.note_errors += 1
        next_at += every
        await _until(stop, next_at)


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    bases = spec["bases"]
    clock, tally, stop = Clock(), Tally(), asyncio.Event()
    subs = [
        Subscriber(s["name"], bases[s["base"]], s["path"], s["token"]) for s in spec["subscribers"]
    ]
    limits = httpx.Limits(max_connections=len(subs) + 10, max_keepalive_connections=len(subs))
    timeout = httpx.Timeout(30.0, read=None)
    async with (
        httpx.AsyncClient(limits=limits, timeout=timeout) as streams,
        httpx.AsyncClient(limits=httpx.Limits(max_connections=64), timeout=30.0) as http,
    ):
        readers = [asyncio.create_task(s.run(streams, clock)) for s in subs]
        await asyncio.wait_for(asyncio.gather(*(s.opened.wait() for s in subs)), 60)
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        rng = random.Random(spec.get("seed", 7))
        phones = [
            Phone(p["device_id"], p["token"], p["lat"], p["lon"], random.Random(rng.random()))
            for p in spec["phones"]
        ]
        load = [
            asyncio.create_task(_phone(http, bases[i % len(bases)], p, spec, clock, tally, stop))
            for i, p in enumerate(phones)
        ]
        load.append(asyncio.create_task(_notes(http, bases, spec, clock, tally, stop)))
        started = time.monotonic()
        await asyncio.sleep(spec["seconds"] / 2)
        dropped = rng.sample(subs, round(len(subs) * spec["reconnect_fraction"]))
        for s in dropped:
            s.drop.set()
        await asyncio.sleep(spec["seconds"] / 2)
        stop.set()
        ran_s = time.monotonic() - started
        await asyncio.gather(*load)
        await asyncio.sleep(spec["drain_s"])
        for r in readers:
            r.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
    return {
        "ran_s": ran_s,
        "points_per_s": tally.points / ran_s,
        "uploads": tally.uploads,
        "points": tally.points,
        "upload_errors": tally.upload_errors,
        "notes": tally.notes,
        "note_errors": tally.note_errors,
        "latencies_ms": clock.latencies_ms,
        "from_request_ms": clock.from_request_ms,
        "answers_ms": clock.answers_ms,
        "unanswered_seen": sum(len(v) for v in clock.early.values()),
        "dropped": [s.name for s in dropped],
        "subscribers": [
            {"name": s.name, "ids": s.ids, "reconnects": s.reconnects, "failures": s.failures}
            for s in subs
        ],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    with open(args.spec) as f:
        spec = json.load(f)
    result = asyncio.run(run(spec))
    with open(args.out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
