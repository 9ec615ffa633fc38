"""`fieldsense bench ingest`: end-to-end ingest throughput against raw COPY, in one run.

It starts its own throwaway PostGIS cluster, loads fences and devices, runs the API in
worker processes, drives it with the load generator in `simulators/` (a separate process,
HTTP only), then times a raw COPY of as many rows into the same `pings` table. Throughput
is the median of several rounds; latency is measured open-loop at a steady request rate.

Alongside each COPY it drives the database alone with the API's own statements for what every
point requires (store it, match it against the fences) for as many rows, with no HTTP and no
engine: a bound on both the end-to-end throughput and the ratio on the machine it runs on.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from backend.auth.security import issue_token
from backend.db import migrate
from backend.embedded_db import EmbeddedPostgres, free_port
from harness.bench.ingest_baseline import (
    copy_rate,
    cpu_s,
    database_alone,
    dsn,
    per_row_us,
    server_cpu_s,
)

# Seoul, where the demo lives.
LAT_MIN, LAT_MAX, LON_MIN, LON_MAX = 37.45, 37.65, 126.85, 127.15


@dataclass
class IngestBenchConfig:
    fences: int = 10_000
    devices: int = 5_000
    seconds: float = 15.0
    rounds: int = 3
    batch: int = 200
    concurrency: int = 16
    workers: int = 2
    latency_seconds: float = 10.0
    rate: float = 200.0
    seed: int = 7


LATENCY_DEVICES = 200
WARMUP_S = 3.0


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


async def _seed(url: str, cfg: IngestBenchConfig, secret: str) -> dict[str, Any]:
    """A tenant with fences and agents with devices, written in bulk (no per-user hashing)."""
    rng = random.Random(cfg.seed)
    db = await asyncpg.connect(dsn(url))
    try:
        tid, hq = uuid.uuid4(), uuid.uuid4()
        await db.execute("INSERT INTO tenants (id, slug, name) VALUES ($1, 'bench', 'Bench')", tid)
        await db.execute(
            "INSERT INTO org_units (tenant_id, id, name, kind, path) VALUES ($1, $2, 'HQ', 'hq', $3)",
            tid,
            hq,
            [hq],
        )
        # The batch rounds' phones, then the latency rounds' own: their live points must not
        # be newer than the batch phones' recorded days, or every batch would be a replay.
        n = cfg.devices + LATENCY_DEVICES
        users = [uuid.uuid4() for _ in range(n)]
        devices = [uuid.uuid4() for _ in range(n)]
        await db.copy_records_to_table(
            "users",
            records=[
                (tid, u, f"agent{i}@bench.test", f"Agent {i}", "agent", hq, "!")
                for i, u in enumerate(users)
            ],
            columns=["tenant_id", "id", "email", "name", "role", "org_unit_id", "password_hash"],
        )
        await db.copy_records_to_table(
            "devices",
            records=[
                (tid, d, u, "phone", "android", f"bench-{i}")
                for i, (d, u) in enumerate(zip(devices, users, strict=True))
            ],
            columns=["tenant_id", "id", "user_id", "name", "platform", "identifier"],
        )
        centres = await _fences(db, tid, hq, cfg.fences, rng)
        await db.execute("ANALYZE")
        # Every phone starts at a fence's edge, so that walking produces enters and exits.
        spec_devices = []
        for i, (d, u) in enumerate(zip(devices, users, strict=True)):
            lat, lon = centres[i % len(centres)]
            spec_devices.append(
                {
                    "device_id": str(d),
                    "token": issue_token(secret, u, tid, 6 * 3600),
                    "lat": lat,
                    "lon": lon,
                }
            )
        return {
            "tenant_id": str(tid),
            "devices": spec_devices[: cfg.devices],
            "latency_devices": spec_devices[cfg.devices :],
            "device_ids": devices,
        }
    finally:
        await db.close()


async def _fences(
    db: asyncpg.Connection, tid: uuid.UUID, hq: uuid.UUID, count: int, rng: random.Random
) -> list[tuple[float, float]]:
    """`count` fences spread over the bench's box, seven in ten circles (50-300 m), the rest
    squares (40-250 m); returns their centres."""
    centres = [(rng.uniform(LAT_MIN, LAT_MAX), rng.uniform(LON_MIN, LON_MAX)) for _ in range(count)]
    circles = [
        (i, lat, lon, rng.uniform(50, 300)) for i, (lat, lon) in enumerate(centres) if i % 10 < 7
    ]
    squares = [
        (i, lat, lon, rng.uniform(40, 250)) for i, (lat, lon) in enumerate(centres) if i % 10 >= 7
    ]
    await db.execute(
        """INSERT INTO geofences (tenant_id, id, org_unit_id, name, tag, external_id, shape, center,
                                  radius_m, geom, dwell_s, exit_buffer_m)
           SELECT $1, gen_random_uuid(), $2, 'fence ' || u.i, 'bench', u.i::text, 'circle',
                  ST_SetSRID(ST_MakePoint(u.lon, u.lat), 4326)::geography, u.r,
                  ST_Buffer(ST_SetSRID(ST_MakePoint(u.lon, u.lat), 4326)::geography, u.r, 'quad_segs=8')::geometry,
                  120, 20
           FROM unnest($3::int[], $4::float8[], $5::float8[], $6::float8[]) AS u(i, lat, lon, r)""",
        tid,
        hq,
        *[list(c) for c in zip(*circles, strict=True)],
    )
    await db.execute(
        """INSERT INTO geofences (tenant_id, id, org_unit_id, name, tag, external_id, shape, geom,
                                  dwell_s, exit_buffer_m)
           SELECT $1, gen_random_uuid(), $2, 'fence ' || u.i, 'bench', u.i::text, 'polygon',
                  ST_Envelope(ST_Buffer(ST_SetSRID(ST_MakePoint(u.lon, u.lat), 4326)::geography, u.r)::geometry),
                  120, 20
           FROM unnest($3::int[], $4::float8[], $5::float8[], $6::float8[]) AS u(i, lat, lon, r)""",
        tid,
        hq,
        *[list(c) for c in zip(*squares, strict=True)],
    )
    return centres


async def _count_events(url: str) -> int:
    db = await asyncpg.connect(dsn(url))
    try:
        return int(await db.fetchval("SELECT count(*) FROM events WHERE retracted_at IS NULL"))
    finally:
        await db.close()


def _wait_ready(base: str, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the API process exited during start-up")
        try:
            if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError("the API did not become ready")


def _load(mode: str, spec_path: Path, args: list[str]) -> dict[str, Any]:
    out = spec_path.with_suffix(f".{mode}.json")
    subprocess.run(  # noqa: S603
        [
            sys.executable,
            "-m",
            "simulators.load",
            mode,
            "--spec",
            str(spec_path),
            "--out",
            str(out),
            *args,
        ],
        check=True,
    )
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def run(cfg: IngestBenchConfig, json_path: Path | None) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="fieldsense-bench-"))
    pg = EmbeddedPostgres(work / "pg")
    server: subprocess.Popen[bytes] | None = None
    try:
        say("[1/6] starting a throwaway PostGIS")
        pg.start()
        migrate.upgrade(pg.url)
        secret = secrets.token_urlsafe(32)
        say(f"[2/6] loading {cfg.fences:,} fences and {cfg.devices:,} devices")
        seeded = asyncio.run(_seed(pg.url, cfg, secret))
        spec_path = work / "spec.json"
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        spec_path.write_text(
            json.dumps(
                {
                    "base_url": base,
                    "devices": seeded["devices"],
                    "latency_devices": seeded["latency_devices"],
                }
            )
        )
        say(f"[3/6] starting the API ({cfg.workers} worker processes)")
        server = _start_api(pg.url, secret, port, cfg)
        _wait_ready(base, server)
        # Latency first, on the quiet database: after the batch rounds autovacuum and the
        # checkpointer are busy with their rows for a while.
        # Warm-up, not measured: each worker's first requests open its pooled connections
        # (connect, type introspection) and prepare its statements.
        say(f"      warm-up: {cfg.rate:.0f} requests/s for {WARMUP_S:.0f} s, not measured")
        _load("latency", spec_path, ["--seconds", str(WARMUP_S), "--rate", str(cfg.rate)])
        latencies = _latency_rounds(cfg, spec_path)
        rounds = _batch_rounds(cfg, spec_path, server.pid, pg)
        lat = {
            "p50_ms": statistics.median(x["p50_ms"] for x in latencies),
            "p99_ms": statistics.median(x["p99_ms"] for x in latencies),
            "errors": sum(x["errors"] for x in latencies),
            "rounds": latencies,
        }
        server.terminate()
        server.wait(timeout=30)
        server = None
        stored = int(statistics.median(r["points_stored"] for r in rounds))
        say(
            f"[6/6] raw COPY of {stored:,} rows into the same table, and the database's share"
            " of the ingest alone for as many (x3)"
        )
        copies, alone, events = _baselines(pg, seeded, stored, cfg)
    finally:
        if server is not None:
            server.terminate()
        pg.destroy()
        shutil.rmtree(work, ignore_errors=True)  # the load specs hold the devices' tokens
    report = _report(cfg, rounds, copies, alone, events, lat)
    if json_path is not None:
        json_path.write_text(json.dumps(report, indent=2, default=str))
        say(f"wrote {json_path}")
    return report


def _report(
    cfg: IngestBenchConfig,
    rounds: list[dict[str, Any]],
    copies: list[float],
    alone: list[dict[str, Any]],
    events: int,
    lat: dict[str, Any],
) -> dict[str, Any]:
    """The report (its `summary` the figures the issue names), its table printed."""
    pings_per_s = statistics.median(r["pings_per_s"] for r in rounds)
    copy_rows_per_s = statistics.median(copies)
    summary = {
        "pings_per_s": round(pings_per_s, 1),
        "copy_rows_per_s": round(copy_rows_per_s, 1),
        "ratio": round(pings_per_s / copy_rows_per_s, 4),
        "events": events,
        "fences": cfg.fences,
        "p50_ms": round(lat["p50_ms"], 2),
        "p99_ms": round(lat["p99_ms"], 2),
    }
    alone_rate = statistics.median(a["rows_per_s"] for a in alone)
    alone_cpu = [a["server_cpu_us_per_row"] for a in alone if a["server_cpu_us_per_row"]]
    # Not a target: what the database alone sustains for the ingest's required statements
    # (see _database_alone), the bound on pings_per_s and ratio on this machine.
    alone_report: dict[str, Any] = {
        "rows_per_s": round(alone_rate, 1),
        "ratio_to_copy": round(alone_rate / copy_rows_per_s, 4),
        "server_cpu_us_per_row": round(statistics.median(alone_cpu), 2) if alone_cpu else None,
        "runs": alone,
    }
    report = {
        "benchmark": "ingest",
        "summary": summary,
        "config": cfg.__dict__,
        "rounds": rounds,
        "copy_rows_per_s_runs": copies,
        "database_alone": alone_report,
        "latency": lat,
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
    }
    _print_table(summary, rounds, lat, alone_report)
    return report


def _start_api(url: str, secret: str, port: int, cfg: IngestBenchConfig) -> subprocess.Popen[bytes]:
    """The API in `cfg.workers` processes, no jobs and no access log, its pools as large as
    the uploaders."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "FIELDSENSE_SECRET": secret,
        "FIELDSENSE_JOBS": "0",
        "FIELDSENSE_ACCESS_LOG": "0",
        # As many pooled connections as uploaders: all of them may land on one worker,
        # and a request beyond the pool would open (and then close) a connection of its own.
        "FIELDSENSE_DB_POOL_SIZE": str(cfg.concurrency),
    }
    return subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "uvicorn",
            "backend.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(cfg.workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
    )


def _latency_rounds(cfg: IngestBenchConfig, spec_path: Path) -> list[dict[str, Any]]:
    """Single points at a steady rate, open loop, round by round."""
    latencies = []
    for r in range(cfg.rounds):
        say(
            f"[4/6] single-point latency round {r + 1}/{cfg.rounds}: {cfg.rate:.0f} requests/s for {cfg.latency_seconds:.0f} s"
        )
        res = _load(
            "latency",
            spec_path,
            ["--seconds", str(cfg.latency_seconds), "--rate", str(cfg.rate)],
        )
        say(f"      p50 {res['p50_ms']:.1f} ms, p99 {res['p99_ms']:.1f} ms, {res['errors']} errors")
        latencies.append(res)
    return latencies


def _batch_rounds(
    cfg: IngestBenchConfig, spec_path: Path, api_pid: int, pg: EmbeddedPostgres
) -> list[dict[str, Any]]:
    """Batched uploads by many phones at once, round by round, with the CPU each side spent
    a ping stored."""
    rounds = []
    for r in range(cfg.rounds):
        say(
            f"[5/6] batches round {r + 1}/{cfg.rounds}: {cfg.seconds:.0f} s, {cfg.batch} points per request, {cfg.concurrency} uploaders"
        )
        # CPU per ping stored, of the API's processes and of PostgreSQL's: where it goes.
        api0, pg0 = cpu_s(api_pid), server_cpu_s(pg)
        res = _load(
            "batches",
            spec_path,
            [
                "--seconds",
                str(cfg.seconds),
                "--batch",
                str(cfg.batch),
                "--concurrency",
                str(cfg.concurrency),
                "--round",
                str(r),
            ],
        )
        res["api_cpu_us_per_ping"] = per_row_us(api0, cpu_s(api_pid), res["points_stored"])
        res["server_cpu_us_per_ping"] = per_row_us(pg0, server_cpu_s(pg), res["points_stored"])
        res["pings_per_s"] = res["points_stored"] / res["seconds"]
        cpu = (
            f", CPU a ping: API {res['api_cpu_us_per_ping']:.1f} us,"
            f" PostgreSQL {res['server_cpu_us_per_ping']:.1f} us"
            if res["api_cpu_us_per_ping"] and res["server_cpu_us_per_ping"]
            else ""
        )
        say(
            f"      {res['points_stored']:,} pings stored in {res['seconds']:.1f} s = {res['pings_per_s']:,.0f}/s, {res['errors']} errors{cpu}"
        )
        rounds.append(res)
    return rounds


def _baselines(
    pg: EmbeddedPostgres, seeded: dict[str, Any], stored: int, cfg: IngestBenchConfig
) -> tuple[list[float], list[dict[str, Any]], int]:
    """Three raw COPYs of `stored` rows and three runs of the database alone; and the events
    the rounds recorded."""
    device_ids = seeded["device_ids"]
    tid = uuid.UUID(seeded["tenant_id"])
    events = asyncio.run(_count_events(pg.url))
    copies: list[float] = []
    alone: list[dict[str, Any]] = []
    for i in range(3):
        copies.append(asyncio.run(copy_rate(pg.url, device_ids, tid, stored, i)))
        alone.append(
            asyncio.run(
                database_alone(pg, seeded["devices"], tid, stored, cfg.batch, cfg.concurrency, i)
            )
        )
        cpu = alone[-1]["server_cpu_us_per_row"]
        say(
            f"      COPY {copies[-1]:,.0f} rows/s; database alone {alone[-1]['rows_per_s']:,.0f}"
            " rows/s" + (f", PostgreSQL {cpu:.1f} us of CPU a row" if cpu else "")
        )
    return copies, alone, events


def _median_of(rounds: list[dict[str, Any]], key: str) -> str:
    values = [r[key] for r in rounds if r.get(key) is not None]
    return f"{statistics.median(values):.1f}" if values else "n/a"


def _print_table(
    summary: dict[str, Any],
    rounds: list[dict[str, Any]],
    lat: dict[str, Any],
    alone: dict[str, Any],
) -> None:
    rows = [
        ("pings/s end to end (median of rounds)", f"{summary['pings_per_s']:,.0f}", ">= 20,000"),
        ("raw COPY rows/s (median of 3)", f"{summary['copy_rows_per_s']:,.0f}", ""),
        ("ratio", f"{summary['ratio']:.3f}", ">= 0.5"),
        ("CPU a ping: API processes, us (median)", _median_of(rounds, "api_cpu_us_per_ping"), ""),
        ("CPU a ping: PostgreSQL, us (median)", _median_of(rounds, "server_cpu_us_per_ping"), ""),
        ("database alone: store + match rows/s (bound)", f"{alone['rows_per_s']:,.0f}", ""),
        ("database alone / COPY (bound on the ratio)", f"{alone['ratio_to_copy']:.3f}", ""),
        ("events recorded", f"{summary['events']:,}", ""),
        ("fences", f"{summary['fences']:,}", ""),
        ("single-point p50 ms", f"{summary['p50_ms']:.1f}", "<= 10"),
        ("single-point p99 ms", f"{summary['p99_ms']:.1f}", "<= 50"),
        ("HTTP errors", str(sum(r["errors"] for r in rounds) + lat["errors"]), "0"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"\n{'ingest benchmark'.ljust(width)}  {'measured':>12}  {'target':>10}")
    for name, value, target in rows:
        print(f"{name.ljust(width)}  {value:>12}  {target:>10}")
    print(flush=True)


def cli(args: Any) -> int:
    cfg = IngestBenchConfig(
        fences=args.fences,
        devices=args.devices,
        seconds=args.seconds,
        rounds=args.rounds,
        batch=args.batch,
        concurrency=args.concurrency,
        workers=args.workers,
        latency_seconds=args.latency_seconds,
        rate=args.rate,
    )
    run(cfg, Path(args.json) if args.json else None)
    return 0
