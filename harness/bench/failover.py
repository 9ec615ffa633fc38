"""`fieldsense bench failover`: a primary and its standby, phones uploading, the primary killed.

On two throwaway clusters of its own (a primary and a hot standby streaming from it):

1. **What synchronous replication costs**: phones upload as fast as they can for `--seconds`
   with the standby asynchronous, then as long with it synchronous (the primary acknowledges a
   commit only once the standby has it on disk); `ingest_cost_pct` is the throughput lost.
2. **Failover**: still synchronous and under load, the primary is killed (immediate shutdown)
   and the standby promoted; the API (its own process, both hosts in `DATABASE_URL`) finds it
   by itself. `acknowledged` points (a 2xx), `stored` of them on the new primary, `lost`, and
   `unavailable_s`, the longest time without a successful upload.
3. **Nightly planning spread over processes**: agents whose evening it is, planned by one
   `fieldsense worker`, then (their plans deleted) by two: `plans_per_min_1`,
   `plans_per_min_2`. Each process's planner uses the machine's cores, so on a small machine
   the second process adds little: the figure says what this machine does.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from backend.db import migrate
from backend.db.local import run_in_session
from backend.embedded_db import EmbeddedPostgres, EmbeddedReplica, free_port
from backend.tenants.services import create_tenant
from harness.cluster import agent_phones, agents_to_plan, both_hosts, stored_points
from harness.simrun import start_api, start_worker, wait_healthy

PASSWORD = "correct-horse-battery"  # noqa: S105 - the throwaway clusters' users
BATCH = 20


def say(msg: str) -> None:
    print(f"[bench failover] {msg}", file=sys.stderr, flush=True)


@dataclass
class Phones:
    """Phones uploading batches as fast as the API takes them, a batch re-sent until a 2xx."""

    base: str
    tokens: list[tuple[str, str]]  # (token, device id)
    acked: set[str] = field(default_factory=set)
    oks: list[float] = field(default_factory=list)  # monotonic times of the 2xx
    statuses: dict[int, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self, token: str, device: str, n: int) -> None:
        t0 = datetime.now(UTC) - timedelta(hours=2)
        seq, pending = 0, list[dict[str, Any]]()
        with httpx.Client(base_url=self.base, timeout=20) as http:
            while not self.stop.is_set():
                if not pending:
                    for _ in range(BATCH):
                        seq += 1
                        pending.append({"client_id": str(uuid.uuid4()),
                                        "time": (t0 + timedelta(seconds=seq + n / 10)).isoformat(),
                                        "lat": 37.5 + seq * 1e-5, "lon": 127.0, "accuracy_m": 10.0})  # fmt: skip
                try:
                    resp = http.post(
                        "/ingest/locations",
                        json={"device_id": device, "points": pending},
                        headers={"Authorization": f"Bearer {token}"},
                    )
                except httpx.HTTPError:
                    time.sleep(0.1)
                    continue
                with self.lock:
                    self.statuses[resp.status_code] = self.statuses.get(resp.status_code, 0) + 1
                    if resp.status_code == 200:
                        self.oks.append(time.monotonic())
                        self.acked.update(
                            str(r["client_id"])
                            for r in resp.json()["results"]
                            if r["status"] != "rejected"
                        )
                if resp.status_code == 200:
                    pending = []
                else:
                    time.sleep(0.2)

    def start(self) -> list[threading.Thread]:
        self.stop.clear()
        threads = [
            threading.Thread(target=self.run, args=(tok, dev, i), daemon=True)
            for i, (tok, dev) in enumerate(self.tokens)
        ]
        for th in threads:
            th.start()
        return threads

    def points_per_s(self, seconds: float) -> float:
        with self.lock:
            before = len(self.acked)
        time.sleep(seconds)
        with self.lock:
            return (len(self.acked) - before) / seconds


def _unavailable_s(oks: list[float], killed: float) -> float:
    """The longest time without a 2xx, among the gaps from just before the kill on."""
    times = sorted(oks)
    before = [t for t in times if t <= killed]
    after = [t for t in times if t > killed]
    if not after:
        return float("inf")
    start = before[-1] if before else killed
    gaps = [after[0] - start] + [b - a for a, b in itertools.pairwise(after)]
    return max(gaps)


async def _count_plans(url: str, clear: bool = False) -> int:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            if clear:
                await conn.execute(text("DELETE FROM plans"))
            return int(await conn.scalar(text("SELECT count(DISTINCT agent_id) FROM plans")) or 0)
    finally:
        await engine.dispose()


def plans_per_min(url: str, workers: int, agents: int, root: Path) -> float:
    asyncio.run(_count_plans(url, clear=True))
    env = {"FIELDSENSE_JOB_INTERVALS": "plan_tomorrow=1", "FIELDSENSE_SECRET": "b" * 40}
    procs = [start_worker(url, root / f"worker-{workers}-{k}.log", env) for k in range(workers)]
    t0 = time.monotonic()
    try:
        while asyncio.run(_count_plans(url)) < agents and time.monotonic() - t0 < 600:
            time.sleep(0.5)
        took = time.monotonic() - t0
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=60)
    planned = asyncio.run(_count_plans(url))
    say(f"{workers} worker(s): {planned} agents planned in {took:.1f} s")
    return round(planned / took * 60, 1)


def run(phones: int, seconds: float, agents: int, json_path: Path | None) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="fieldsense-failover-"))
    primary = EmbeddedPostgres(root / "primary")
    standby = EmbeddedReplica(root / "standby", primary=primary)
    api = None
    try:
        primary.start(fsync=True)
        migrate.upgrade(primary.url)
        run_in_session(primary.url, lambda s: create_tenant(
            s, slug="failover", name="Failover", admin_email="admin@f.test",
            admin_password=PASSWORD))  # fmt: skip
        standby.start(fsync=True)
        port = free_port()
        api = start_api(both_hosts(primary, standby), port, root / "api.log",
                        {"FIELDSENSE_RATE_DEVICE": "1000000:100000"})  # fmt: skip
        wait_healthy(port, api, root / "api.log")
        base = f"http://127.0.0.1:{port}"
        load = Phones(base, agent_phones(base, "failover", "admin@f.test", PASSWORD, phones))
        rate_async, rate_sync, killed = _replicate_then_fail_over(load, primary, standby, seconds)
        acked = set(load.acked)
        stored = asyncio.run(stored_points(standby.url, [d for _, d in load.tokens]))
        api.terminate()
        api.wait(timeout=30)
        api = None
        say(f"planning {agents} agents with one worker, then two")
        asyncio.run(agents_to_plan(standby.url, "planning", agents, 40))
        one = plans_per_min(standby.url, 1, agents, root)
        two = plans_per_min(standby.url, 2, agents, root)
    finally:
        if api is not None:
            api.terminate()
            api.wait(timeout=30)
        standby.destroy()
        primary.destroy()
        shutil.rmtree(root, ignore_errors=True)
    summary = {
        "acknowledged": len(acked),
        "stored": len(acked & stored),
        "lost": len(acked - stored),
        "unavailable_s": round(_unavailable_s(load.oks, killed), 2),
        "ingest_cost_pct": round(100.0 * (rate_async - rate_sync) / rate_async, 1),
        "plans_per_min_1": one,
        "plans_per_min_2": two,
    }
    _print_table(summary, rate_async, rate_sync)
    report = {
        "benchmark": "failover",
        "phones": phones,
        "seconds": seconds,
        "agents": agents,
        "points_per_s": {"asynchronous": round(rate_async, 1), "synchronous": round(rate_sync, 1)},
        "statuses": load.statuses,
        "summary": summary,
    }
    if json_path is not None:
        json_path.write_text(json.dumps(report, indent=2))
    return report


def _replicate_then_fail_over(
    load: Phones, primary: EmbeddedPostgres, standby: EmbeddedReplica, seconds: float
) -> tuple[float, float, float]:
    """Uploads with the standby asynchronous, then synchronous (points/s of each), then the
    primary killed and the standby promoted under load; returns both rates and when the
    primary was killed (monotonic)."""
    threads = load.start()
    time.sleep(2)  # warm
    say(f"asynchronous standby: {seconds:.0f} s of uploads")
    rate_async = load.points_per_s(seconds)
    primary.synchronous(standby.NAME)
    while primary._psql("SELECT sync_state FROM pg_stat_replication") != "sync":
        time.sleep(0.2)
    say(f"synchronous standby: {seconds:.0f} s of uploads")
    rate_sync = load.points_per_s(seconds)
    say(f"{rate_async:.0f} points/s asynchronous, {rate_sync:.0f} synchronous")
    say("killing the primary, promoting the standby")
    primary.stop("immediate")
    killed = time.monotonic()
    standby.promote()
    while not [t for t in load.oks if t > killed] and time.monotonic() - killed < 60:
        time.sleep(0.1)
    time.sleep(3)
    load.stop.set()
    for th in threads:
        th.join(timeout=30)
    return rate_async, rate_sync, killed


def _print_table(summary: dict[str, Any], rate_async: float, rate_sync: float) -> None:
    one, two = summary["plans_per_min_1"], summary["plans_per_min_2"]
    print(
        "\n| figure | value | target |\n|---|---:|---|\n"
        f"| acknowledged points | {summary['acknowledged']} | |\n"
        f"| stored on the promoted standby | {summary['stored']} | |\n"
        f"| lost | {summary['lost']} | 0 |\n"
        f"| unavailable_s | {summary['unavailable_s']} | <= 15 |\n"
        f"| ingest points/s, asynchronous / synchronous | {rate_async:.0f} / {rate_sync:.0f} | |\n"
        f"| ingest_cost_pct | {summary['ingest_cost_pct']} | (measured) |\n"
        f"| plans per minute, 1 / 2 workers | {one} / {two} | 2 >= 1.6 x 1 where the cores allow |\n",
        flush=True,
    )


def cli(args: Any) -> int:
    run(args.phones, args.seconds, args.agents, Path(args.json) if args.json else None)
    return 0
