"""Two real API processes on one database: each job fires once per interval, not per process."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.engine import make_url

from backend.db import migrate
from backend.embedded_db import free_port
from tests.backend.world import Tenant

FAST = 1.0  # seconds between firings of the jobs under watch


async def _fresh_database(db_url: str) -> str:
    """A new, migrated database in the test cluster (its jobs see no other test's data)."""
    url = make_url(db_url)
    name = f"jobs_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        database=url.database,
    )
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    fresh = url.set(database=name).render_as_string(hide_password=False)
    await asyncio.to_thread(migrate.upgrade, fresh)
    return fresh


def _serve(url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "FIELDSENSE_PORT": str(port),
        "FIELDSENSE_JOBS": "1",
        "FIELDSENSE_ACCESS_LOG": "0",
        "FIELDSENSE_SECRET": "jobs-test-" + "y" * 32,
        "FIELDSENSE_JOB_INTERVALS": f"learn_from_outcomes={FAST},track_campaigns={FAST}",
    }
    exe = shutil.which("fieldsense", path=str(Path(sys.executable).parent)) or "fieldsense"
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [exe, "serve", "--port", str(port)], env=env, stdout=out, stderr=out
        )


def _wait_healthy(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the API process died:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the API process did not come up:\n{log.read_text()[-3000:]}")


async def test_two_api_processes_fire_each_job_once(db_url: str, tmp_path: Path) -> None:
    url = await _fresh_database(db_url)
    ports = [free_port(), free_port()]
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    procs = [_serve(url, p, log) for p, log in zip(ports, logs, strict=True)]
    try:
        for port, proc, log in zip(ports, procs, logs, strict=True):
            _wait_healthy(port, proc, log)
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
    assert rows["plan_tomorrow"]["runs"] == 1, dict(rows["plan_tomorrow"])
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
    assert jobs["deliver_webhooks"]["shared"] and not jobs["plan_tomorrow"]["shared"]
    assert (await client.get("/admin/jobs", headers=tenant.h("manager"))).status_code == 403
