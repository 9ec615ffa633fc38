"""A short simulated day end to end: phones over HTTP into the real API and PostGIS, visits
detected without anyone tapping a button, a store's app receiving signed webhooks; and the
demo command's start-up path."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from backend.common.egress import TargetPolicy
from backend.config import Settings
from backend.embedded_db import free_port
from backend.tenants.demo import DEMO_PASSWORD, demo_logins, seed_demo
from backend.tracking.queries import webhook_events
from backend.webhooks.dispatcher import Dispatcher
from simulators.day import DayConfig, simulate
from tests.conftest import fresh_database


async def test_a_short_simulated_day(
    live_server: str, engine: AsyncEngine, settings: Settings, tmp_path: Path
) -> None:
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        demo = await seed_demo(session)  # does nothing when the demo tenant exists
        logins = await demo_logins(session, demo.tenant_id)
    cfg = DayConfig(
        base_url=live_server,
        tenant=demo.slug,
        admin_email=logins["admin"].email,
        password=DEMO_PASSWORD,
        agents=2,
        stores=1,
        shoppers_per_store=3,
        stops_per_agent=3,
        cancel_rate=0.0,
        seed=11,
        out_dir=tmp_path,
        progress=lambda _msg: None,
        plan_time_limit_s=0.5,
        webhook_wait_s=20,
    )
    # The tests run no scheduler: deliver webhooks as the job would, every half second.
    policy = TargetPolicy.from_settings(False, settings.webhook_allow_networks)
    dispatcher = Dispatcher(engine, policy, timeout_s=2.0, events=webhook_events())

    async def deliver() -> None:
        while True:
            await dispatcher.run()
            await asyncio.sleep(0.5)

    task = asyncio.create_task(deliver())
    try:
        summary = await simulate(cfg)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await dispatcher.close()
    assert summary["agents"] == 2 and summary["errors"] == 0
    assert summary["true_visits"] >= 4
    assert summary["detected_visits"] >= 1 and summary["matched"] >= 0.75 * summary["true_visits"]
    assert summary["store_entries"] >= 1
    assert summary["webhooks_delivered"] >= 1
    assert summary["webhooks_verified"] == summary["webhooks_delivered"]
    assert (tmp_path / "truth.json").exists() and (tmp_path / "summary.json").exists()


async def test_the_demo_command_starts_serves_and_stops(db_url: str, tmp_path: Path) -> None:
    fresh = await fresh_database(db_url, "demo")
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": fresh,
        "FIELDSENSE_DATA_DIR": str(tmp_path),
        "FIELDSENSE_SECRET": "demo-test-" + "z" * 32,
    }
    proc = _start_demo(port, env)
    assert proc.stdout is not None
    try:
        deadline = time.time() + 180
        seen = []
        while time.time() < deadline:
            line = await asyncio.to_thread(proc.stdout.readline)
            if not line and proc.poll() is not None:
                break
            seen.append(line)
            if "API docs:" in line:  # the last line of the access details
                break
        out = "".join(seen)
        assert "fieldsense is running at" in out, out[-3000:]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", trust_env=False) as http:
            assert (await http.get("/manager/")).status_code == 200
            resp = await http.post(
                "/auth/login",
                json={"tenant": "hanbit-life", "email": _email(out), "password": DEMO_PASSWORD},
            )
            assert resp.status_code == 200, resp.text
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.stdout.close()
    assert proc.returncode == 0


def _start_demo(port: int, env: dict[str, str]) -> subprocess.Popen[str]:
    exe = Path(sys.executable).parent / "fieldsense"
    return subprocess.Popen(
        [str(exe), "demo", "--no-sim", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _email(out: str) -> str:
    line = next(x for x in out.splitlines() if "agent login:" in x)
    return line.split("agent login:")[1].split("/")[0].strip()
