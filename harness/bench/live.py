"""`fieldsense bench live`: live streams under a steady ingest, across two API processes.

It starts its own throwaway PostGIS and two API processes (separate uvicorn servers, each
with its own hub), loads a tenant of teams (a manager, agents and their phones each), and
runs `simulators.live` (another process, HTTP only): 200 subscribers by default, managers'
team streams and agents' own, spread over both servers; phones uploading batches at a
steady rate (2,000 points/s by default) and managers writing coaching notes, spread over both
servers too, so most events cross from one process to the other through PostgreSQL.
Halfway, a quarter of the streams are dropped and reopened with their `Last-Event-ID`.

Latency is from an upload's (or note's) response at the client to its event on each stream
that carries it. `lost` is what a stream should have received and did not: every row the
feed numbered after the streams opened, of the kinds and agents the stream is for (read from
the database at the end), against the ids the stream received. The baseline in the same run
is PostgreSQL's own `NOTIFY`, from a committed transaction to a listening connection, timed
by this process under the same load: the floor the streams' fan-out is built on.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from backend.auth.security import issue_token
from backend.db import migrate
from backend.embedded_db import EmbeddedPostgres, free_port
from backend.live.controllers import AGENT_KINDS, TEAM_KINDS
from harness.bench.ingest import _wait_ready
from harness.bench.ingest_baseline import dsn

LAT, LON = 37.5665, 126.978


@dataclass
class LiveBenchConfig:
    teams: int = 50
    agents_per_team: int = 10
    subscribers: int = 200
    rate: float = 2000.0  # points per second
    batch: int = 25  # points per upload: a phone every 6.25 s
    notes_per_s: float = 4.0
    seconds: float = 60.0
    reconnect_fraction: float = 0.25
    drain_s: float = 3.0
    seed: int = 7


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


async def _seed(url: str, cfg: LiveBenchConfig, secret: str) -> dict[str, Any]:
    """A tenant: HQ and `teams` teams, each with a manager and its agents with phones."""
    rng = random.Random(cfg.seed)
    db = await asyncpg.connect(dsn(url))
    try:
        tid, hq = uuid.uuid4(), uuid.uuid4()
        await db.execute("INSERT INTO tenants (id, slug, name) VALUES ($1, 'live', 'Live')", tid)
        units = [(tid, hq, "HQ", "hq", [hq])]
        teams = [uuid.uuid4() for _ in range(cfg.teams)]
        units += [(tid, t, f"T{i}", "team", [hq, t]) for i, t in enumerate(teams)]
        await db.copy_records_to_table(
            "org_units", records=units, columns=["tenant_id", "id", "name", "kind", "path"]
        )
        users, devices, people = [], [], []
        for i, team in enumerate(teams):
            m = uuid.uuid4()
            users.append((tid, m, f"m{i}@live.test", f"Manager {i}", "manager", team, "!"))
            agents = []
            for j in range(cfg.agents_per_team):
                a, d = uuid.uuid4(), uuid.uuid4()
                users.append((tid, a, f"a{i}.{j}@live.test", f"Agent {i}.{j}", "agent", team, "!"))
                devices.append((tid, d, a, "phone", "android", f"live-{i}-{j}"))
                agents.append({"id": a, "device_id": d})
            people.append({"team": team, "manager": m, "agents": agents})
        await db.copy_records_to_table(
            "users",
            records=users,
            columns=["tenant_id", "id", "email", "name", "role", "org_unit_id", "password_hash"],
        )
        await db.copy_records_to_table(
            "devices",
            records=devices,
            columns=["tenant_id", "id", "user_id", "name", "platform", "identifier"],
        )
        await db.execute("ANALYZE")
    finally:
        await db.close()
    return _spec(tid, people, cfg, secret, rng)


def _spec(
    tid: uuid.UUID,
    people: list[dict[str, Any]],
    cfg: LiveBenchConfig,
    secret: str,
    rng: random.Random,
) -> dict[str, Any]:
    """What the client runs, and what each stream is for (to count what it lost)."""

    def token(user: uuid.UUID) -> str:
        return issue_token(secret, user, tid, 6 * 3600)

    phones, notes, subs = [], [], []
    for team in people:
        for a in team["agents"]:
            phones.append(
                {
                    "device_id": str(a["device_id"]),
                    "token": token(a["id"]),
                    "lat": LAT + rng.uniform(-0.05, 0.05),
                    "lon": LON + rng.uniform(-0.05, 0.05),
                }
            )
            notes.append({"agent_id": str(a["id"]), "token": token(team["manager"])})
    # Half the streams are managers' (each team's manager, up to 4 streams: a desk, a
    # phone...), half agents' own; alternately on each server.
    n_team = cfg.subscribers // 2
    for k in range(n_team):
        team = people[k % len(people)]
        subs.append(
            {
                "name": f"team{k}",
                "base": k % 2,
                "path": f"/live/team/{team['team']}",
                "token": token(team["manager"]),
                "kinds": sorted(TEAM_KINDS),
                "agents": [str(a["id"]) for a in team["agents"]],
            }
        )
    agents = [a for team in people for a in team["agents"]]
    for k in range(cfg.subscribers - n_team):
        a = agents[(k * 7) % len(agents)]
        subs.append(
            {
                "name": f"me{k}",
                "base": (k + 1) % 2,
                "path": "/live/me",
                "token": token(a["id"]),
                "kinds": sorted(AGENT_KINDS),
                "agents": [str(a["id"])],
            }
        )
    rng.shuffle(notes)
    return {
        "tenant_id": str(tid),
        "phones": phones,
        "notes": notes,
        "subscribers": subs,
        "rate": cfg.rate,
        "batch": cfg.batch,
        "notes_per_s": cfg.notes_per_s,
        "seconds": cfg.seconds,
        "reconnect_fraction": cfg.reconnect_fraction,
        "drain_s": cfg.drain_s,
        "seed": cfg.seed,
    }


def _start_api(url: str, secret: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "FIELDSENSE_SECRET": secret,
        "FIELDSENSE_JOBS": "0",
        "FIELDSENSE_ACCESS_LOG": "0",
        "FIELDSENSE_ROADS": "0",
    }
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "uvicorn", "backend.app:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--log-level", "warning", "--no-access-log"],
        env=env,
    )  # fmt: skip


async def _notify_floor(url: str, stop: asyncio.Event, every_s: float = 0.05) -> list[float]:
    """PostgreSQL's own NOTIFY under the same load: a committed transaction's notification
    to a listening connection, in ms."""
    listener, sender = await asyncpg.connect(dsn(url)), await asyncpg.connect(dsn(url))
    got: dict[str, float] = {}
    arrived = asyncio.Event()

    def heard(_c: object, _p: int, _ch: str, payload: str) -> None:
        got[payload] = time.monotonic()
        arrived.set()

    out = []
    try:
        await listener.add_listener("bench_floor", heard)
        while not stop.is_set():
            key = uuid.uuid4().hex
            await sender.execute("BEGIN")
            await sender.execute("SELECT pg_notify('bench_floor', $1)", key)
            t0 = time.monotonic()  # from the COMMIT sent: it is answered about when it arrives
            await sender.execute("COMMIT")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    while key not in got:
                        arrived.clear()
                        await arrived.wait()
            if key in got:
                out.append(max(0.0, (got.pop(key) - t0) * 1000))
            await asyncio.sleep(every_s)
    finally:
        await listener.close()
        await sender.close()
    return out


async def _drive(url: str, spec_path: Path, out_path: Path, tid: uuid.UUID) -> dict[str, Any]:
    """The client process, told to go once its streams are open; the NOTIFY floor
    alongside. Returns where the feed stood when the streams opened, and the floor."""
    client = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "simulators.live", "--spec", str(spec_path), "--out",
        str(out_path), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert client.stdout is not None and client.stdin is not None
    line = await asyncio.wait_for(client.stdout.readline(), 120)
    if line.strip() != b"ready":
        raise RuntimeError("the live client did not open its streams")
    db = await asyncpg.connect(dsn(url))
    try:
        head = int(
            await db.fetchval(
                "SELECT coalesce((SELECT seq FROM live_heads WHERE tenant_id = $1), 0)", tid
            )
        )
    finally:
        await db.close()
    stop = asyncio.Event()
    floor = asyncio.create_task(_notify_floor(url, stop))
    client.stdin.write(b"go\n")
    await client.stdin.drain()
    code = await client.wait()
    stop.set()
    if code != 0:
        raise RuntimeError(f"the live client failed ({code})")
    return {"head": head, "floor_ms": await floor}


async def _feed(url: str, tid: uuid.UUID, after: int) -> list[asyncpg.Record]:
    db = await asyncpg.connect(dsn(url))
    try:
        return list(
            await db.fetch(
                "SELECT seq, kind, agent_id::text AS agent FROM live_events"
                " WHERE tenant_id = $1 AND seq > $2 ORDER BY seq",
                tid,
                after,
            )
        )
    finally:
        await db.close()


def _lost(spec: dict[str, Any], got: dict[str, Any], feed: list[asyncpg.Record]) -> dict[str, Any]:
    """Per stream, the feed's rows it should have received against the ids it did."""
    received = {s["name"]: s["ids"] for s in got["subscribers"]}
    lost = twice = out_of_order = expected_total = 0
    for s in spec["subscribers"]:
        kinds, agents = set(s["kinds"]), set(s["agents"])
        expected = {r["seq"] for r in feed if r["kind"] in kinds and r["agent"] in agents}
        ids = received[s["name"]]
        expected_total += len(expected)
        lost += len(expected - set(ids))
        twice += len(ids) - len(set(ids))
        out_of_order += sum(1 for a, b in itertools.pairwise(ids) if b <= a)
    return {
        "expected": expected_total,
        "lost": lost,
        "twice": twice,
        "out_of_order": out_of_order,
    }


def run(cfg: LiveBenchConfig, json_path: Path | None) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="fieldsense-live-"))
    pg = EmbeddedPostgres(work / "pg")
    servers: list[subprocess.Popen[bytes]] = []
    try:
        say("[1/5] starting a throwaway PostGIS")
        pg.start()
        migrate.upgrade(pg.url)
        secret = secrets.token_urlsafe(32)
        phones = cfg.teams * cfg.agents_per_team
        say(f"[2/5] loading {cfg.teams} teams, {phones} agents with phones")
        spec = asyncio.run(_seed(pg.url, cfg, secret))
        ports = [free_port(), free_port()]
        spec["bases"] = [f"http://127.0.0.1:{p}" for p in ports]
        spec_path, out_path = work / "spec.json", work / "out.json"
        spec_path.write_text(json.dumps(spec))
        say("[3/5] starting two API processes")
        servers = [_start_api(pg.url, secret, p) for p in ports]
        for base, proc in zip(spec["bases"], servers, strict=True):
            _wait_ready(base, proc)
        say(
            f"[4/5] {cfg.subscribers} streams open; {cfg.rate:,.0f} points/s in batches of "
            f"{cfg.batch} and {cfg.notes_per_s:g} notes/s for {cfg.seconds:.0f} s; "
            f"{cfg.reconnect_fraction:.0%} of the streams dropped and reopened halfway"
        )
        tid = uuid.UUID(spec["tenant_id"])
        drove = asyncio.run(_drive(pg.url, spec_path, out_path, tid))
        got = json.loads(out_path.read_text())
        say("[5/5] counting what each stream should have received")
        feed = asyncio.run(_feed(pg.url, tid, drove["head"]))
        counted = _lost(spec, got, feed)
    finally:
        for s in servers:
            s.terminate()
        for s in servers:
            with contextlib.suppress(subprocess.TimeoutExpired):
                s.wait(timeout=30)
        pg.destroy()
        shutil.rmtree(work, ignore_errors=True)  # the spec holds tokens
    report = _report(cfg, got, counted, drove["floor_ms"], len(feed))
    if json_path is not None:
        json_path.write_text(json.dumps(report, indent=2))
        say(f"wrote {json_path}")
    return report


def _report(
    cfg: LiveBenchConfig,
    got: dict[str, Any],
    counted: dict[str, Any],
    floor: list[float],
    feed_rows: int,
) -> dict[str, Any]:
    lat = got["latencies_ms"]
    events = sum(len(s["ids"]) for s in got["subscribers"])
    summary = {
        "subscribers": len(got["subscribers"]),
        "events": events,
        "p50_ms": round(_pct(lat, 0.50), 1),
        "p99_ms": round(_pct(lat, 0.99), 1),
        "lost": counted["lost"],
    }
    floor_p50, floor_p99 = _pct(floor, 0.5), _pct(floor, 0.99)
    asked, answers = got["from_request_ms"], got["answers_ms"]
    detail = {
        "points_per_s": round(got["points_per_s"], 1),
        "uploads": got["uploads"],
        "upload_errors": got["upload_errors"],
        "notes": got["notes"],
        "note_errors": got["note_errors"],
        "feed_rows": feed_rows,
        "expected": counted["expected"],
        "received_twice": counted["twice"],
        "out_of_order": counted["out_of_order"],
        "timed_deliveries": len(lat),
        "p90_ms": round(_pct(lat, 0.90), 1),
        "max_ms": round(max(lat), 1) if lat else None,
        "streams_dropped": len(got["dropped"]),
        "reconnects": sum(s["reconnects"] for s in got["subscribers"]),
        "stream_failures": sum(s["failures"] for s in got["subscribers"]),
    }
    # From the request, the event on a stream against the request's own answer (both in this
    # run): how much later than the phone's own answer the streams hear of it.
    from_request = {"p50_ms": round(_pct(asked, 0.5), 1), "p99_ms": round(_pct(asked, 0.99), 1)}
    answer = {"p50_ms": round(_pct(answers, 0.5), 1), "p99_ms": round(_pct(answers, 0.99), 1)}
    baseline = {
        "event_from_request": from_request,
        "answer_from_request": answer,
        "ratio_p50": round(from_request["p50_ms"] / answer["p50_ms"], 2)
        if answer["p50_ms"]
        else None,
        "ratio_p99": round(from_request["p99_ms"] / answer["p99_ms"], 2)
        if answer["p99_ms"]
        else None,
        "notify_p50_ms": round(floor_p50, 2),
        "notify_p99_ms": round(floor_p99, 2),
        "notify_samples": len(floor),
    }
    _print_table(summary, detail, baseline)
    return {
        "benchmark": "live",
        "summary": summary,
        "detail": detail,
        "baseline": baseline,
        "config": cfg.__dict__,
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
    }


def _print_table(summary: dict[str, Any], detail: dict[str, Any], base: dict[str, Any]) -> None:
    rows = [
        ("subscribers", summary["subscribers"], "streams open (managers' teams, agents' own)"),
        ("events", f"{summary['events']:,}", "events received, over every stream"),
        ("p50_ms", summary["p50_ms"], "upload or note answered -> event on a stream (<= 200)"),
        ("p99_ms", summary["p99_ms"], "(<= 1000)"),
        ("lost", summary["lost"], "should have been received and were not (= 0)"),
        ("points/s", f"{detail['points_per_s']:,}", "ingested, steady"),
        ("twice / out of order", f"{detail['received_twice']} / {detail['out_of_order']}", ""),
        ("from the request p50 / p99",
         f"{base['event_from_request']['p50_ms']} / {base['event_from_request']['p99_ms']} ms",
         "the event on a stream, from the upload's request"),
        ("the answer p50 / p99",
         f"{base['answer_from_request']['p50_ms']} / {base['answer_from_request']['p99_ms']} ms",
         f"the upload's own answer; ratio {base['ratio_p50']} / {base['ratio_p99']}"),
        ("NOTIFY alone p50 / p99", f"{base['notify_p50_ms']} / {base['notify_p99_ms']} ms",
         "PostgreSQL's own, from COMMIT sent"),
    ]  # fmt: skip
    width = max(len(r[0]) for r in rows)
    print(f"\nfieldsense bench live\n{'-' * 72}")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value!s:>14}  {note}")


def cli(args: Any) -> int:
    cfg = LiveBenchConfig(
        subscribers=args.subscribers,
        rate=args.rate,
        seconds=args.seconds,
        teams=args.teams,
        batch=args.batch,
    )
    run(cfg, Path(args.json) if args.json else None)
    return 0
