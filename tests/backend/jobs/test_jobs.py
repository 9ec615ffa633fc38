"""Two real API processes on one database: each job fires once per interval, not per process;
two `fieldsense worker` processes plan each agent's tomorrow exactly once between them."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from backend.embedded_db import free_port
from harness.cluster import agents_to_plan
from harness.simrun import start_api, start_worker, wait_healthy
from tests.backend.world import Tenant
from tests.conftest import fresh_database

FAST = 1.0  # seconds between firings of the jobs under watch


async def test_two_api_processes_fire_each_job_once(db_url: str, tmp_path: Path) -> None:
    url = await fresh_database(db_url, "jobs")
    ports = [free_port(), free_port()]
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    env = {
        "FIELDSENSE_SECRET": "jobs-test-" + "y" * 32,
        "FIELDSENSE_JOB_INTERVALS": f"learn_from_outcomes={FAST},track_campaigns={FAST}",
    }
    procs = [start_api(url, p, log, env) for p, log in zip(ports, logs, strict=True)]
    try:
        for port, proc, log in zip(ports, procs, logs, strict=True):
            wait_healthy(port, proc, log, timeout=60)
        both_up = time.time()
        await asyncio.sleep(6 * FAST)
        watched = time.time() - both_up
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
    conn = await asyncpg.connect(make_url(url).set(drivername="postgresql").render_as_string(False))
    try:
        rows = {
            r["name"]: r
            for r in await conn.fetch("SELECT name, runs, last_runner, last_error FROM job_state")
        }
    finally:
        await conn.close()
    # A long-interval job was due once, at the first start: one process ran it, once.
    assert rows["score_customers"]["runs"] == 1, dict(rows["score_customers"])
    assert rows["exit_silent_devices"]["runs"] == 1
    # A job every FAST seconds ran about once per FAST seconds in all, not once per process.
    for name in ("learn_from_outcomes", "track_campaigns"):
        runs = rows[name]["runs"]
        assert 3 <= runs <= watched / FAST + 3, (name, runs, watched)
        assert rows[name]["last_error"] is None


async def test_admin_lists_the_jobs(client: AsyncTestClient[Litestar], tenant: Tenant) -> None:
    resp = await client.get("/admin/jobs", headers=tenant.h("admin"))
    assert resp.status_code == 200, resp.text
    jobs = {j["name"]: j for j in resp.json()}
    assert {"deliver_webhooks", "plan_tomorrow", "exit_silent_devices"} <= set(jobs)
    assert jobs["deliver_webhooks"]["shared"] and jobs["plan_tomorrow"]["shared"]
    assert not jobs["score_customers"]["shared"]
    assert (await client.get("/admin/jobs", headers=tenant.h("manager"))).status_code == 403


async def test_two_workers_plan_each_agent_exactly_once(db_url: str, tmp_path: Path) -> None:
    url = await fresh_database(db_url, "workers")
    agents = 12
    await agents_to_plan(url, "workers", agents, 6)
    engine = create_async_engine(url)
    env = {
        "FIELDSENSE_SECRET": "workers-test-" + "y" * 32,
        "FIELDSENSE_JOB_INTERVALS": "plan_tomorrow=1",
    }
    logs = [tmp_path / "w1.log", tmp_path / "w2.log"]
    procs = [start_worker(url, log, env) for log in logs]
    count = text("SELECT count(*), count(DISTINCT agent_id) FROM plans")
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            async with engine.connect() as conn:
                plans, planned = (await conn.execute(count)).one()
            if planned == agents:
                break
            assert all(p.poll() is None for p in procs), [log.read_text()[-2000:] for log in logs]
            await asyncio.sleep(0.5)
        await asyncio.sleep(3)  # a few more firings of both: none may plan again
        async with engine.connect() as conn:
            plans, planned = (await conn.execute(count)).one()
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=30)
        await engine.dispose()
    assert planned == agents, [log.read_text()[-2000:] for log in logs]
    assert plans == agents  # each agent's tomorrow once: no second plan, no revision
    assert all(p.returncode == 0 for p in procs)
    assert all("worker: running the periodic jobs" in log.read_text() for log in logs)
