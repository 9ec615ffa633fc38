"""PostgreSQL stopped and started again while phones keep sending points.

The API runs as its own process (`fieldsense serve`, jobs on) on a cluster of its own, which
the test stops (fast shutdown: sessions are cut) and starts again under load. Every point that
got a 2xx must be in the database afterwards; during the outage the phones get 503 with
`Retry-After` (no hang, no 500); and the same API process serves again once the database is
back, without being restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from backend.db import migrate
from backend.db.local import run_in_session
from backend.embedded_db import EmbeddedPostgres, free_port
from backend.tenants.services import create_tenant
from harness.cluster import agent_phones, stored_points
from harness.simrun import start_api, wait_healthy

PASSWORD = "correct-horse-battery"
PHONES = 4
BATCH = 20


@dataclass
class Phone:
    token: str
    device: str
    acked: set[str] = field(default_factory=set)
    statuses: Counter[int] = field(default_factory=Counter)
    retry_after: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    slowest_s: float = 0.0


def send_until(base: str, phone: Phone, n: int, stop: threading.Event) -> None:
    """Send batches until told to stop; a batch that got no 2xx is re-sent, as a phone does."""
    t0 = datetime.now(UTC) - timedelta(hours=2)
    pending: list[dict[str, object]] = []
    seq = 0
    with httpx.Client(base_url=base, timeout=20) as http:
        while not stop.is_set():
            if not pending:
                pending = []
                for _ in range(BATCH):
                    seq += 1
                    pending.append(
                        {
                            "client_id": str(uuid.uuid4()),
                            "time": (t0 + timedelta(seconds=seq + n / 10)).isoformat(),
                            "lat": 37.5 + seq * 1e-5,
                            "lon": 127.0,
                            "accuracy_m": 10.0,
                        }
                    )
            started = time.monotonic()
            try:
                resp = http.post(
                    "/ingest/locations",
                    json={"device_id": phone.device, "points": pending},
                    headers={"Authorization": f"Bearer {phone.token}"},
                )
            except httpx.HTTPError as exc:
                phone.problems.append(f"{type(exc).__name__}: {exc}")
                continue
            finally:
                phone.slowest_s = max(phone.slowest_s, time.monotonic() - started)
            phone.statuses[resp.status_code] += 1
            if resp.status_code == 200:
                body = resp.json()
                for r in body["results"]:
                    if r["status"] != "rejected":
                        phone.acked.add(str(r["client_id"]))
                pending = []
            elif resp.status_code == 503:
                phone.retry_after.add(resp.headers.get("retry-after", ""))
                time.sleep(0.2)
            else:
                phone.problems.append(f"{resp.status_code}: {resp.text[:200]}")
                time.sleep(0.2)


@dataclass
class Sending:
    """Phones sending in threads of their own, until stopped."""

    phones: list[Phone]
    stop: threading.Event
    threads: list[threading.Thread]

    @classmethod
    def start(cls, base: str, phones: list[Phone]) -> Sending:
        stop = threading.Event()
        threads = [
            threading.Thread(target=send_until, args=(base, p, i, stop), daemon=True)
            for i, p in enumerate(phones)
        ]
        for th in threads:
            th.start()
        return cls(phones, stop, threads)

    def served_again(self, within_s: float, every_s: float) -> None:
        """Until every phone has had one more 2xx than now (or `within_s` passed)."""
        marks = [p.statuses[200] for p in self.phones]
        deadline = time.time() + within_s
        while time.time() < deadline and any(
            p.statuses[200] <= m for p, m in zip(self.phones, marks, strict=True)
        ):
            time.sleep(every_s)

    def finish(self) -> None:
        self.stop.set()
        for th in self.threads:
            th.join(timeout=30)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_points_survive_a_database_restart_under_load(tmp_path: Path) -> None:
    cluster = EmbeddedPostgres(tmp_path / "pg")
    cluster.start(fsync=True)
    api = None
    try:
        url = cluster.url
        migrate.upgrade(url)
        slug = f"restart-{uuid.uuid4().hex[:6]}"
        run_in_session(
            url,
            lambda s: create_tenant(
                s, slug=slug, name="Restart", admin_email="admin@r.test", admin_password=PASSWORD
            ),
        )
        port = free_port()
        log = tmp_path / "api.log"
        # Four phones sending as fast as they can: far over a phone's upload limit.
        api = start_api(url, port, log, {"FIELDSENSE_RATE_DEVICE": "1000000:100000"})
        wait_healthy(port, api, log)
        base = f"http://127.0.0.1:{port}"
        phones = [
            Phone(t, d) for t, d in agent_phones(base, slug, "admin@r.test", PASSWORD, PHONES)
        ]

        sending = Sending.start(base, phones)
        time.sleep(3)
        before = sum(len(p.acked) for p in phones)
        cluster.stop()  # fast shutdown: open sessions are terminated
        time.sleep(4)
        during = Counter[int]()
        for p in phones:
            during.update(p.statuses)
        cluster.start(fsync=True)
        # Recovered: every phone gets a 2xx again within 30 s, from the same API process.
        sending.served_again(within_s=30, every_s=0.2)
        time.sleep(2)
        sending.finish()
        assert api.poll() is None, "the API process died"

        acked = set().union(*(p.acked for p in phones))
        kept = asyncio.run(stored_points(url, [p.device for p in phones]))
        statuses = Counter[int]()
        for p in phones:
            statuses.update(p.statuses)
        print(
            f"restart: {len(acked)} points acknowledged ({before} before the stop),"
            f" {len(acked & kept)} of them stored; statuses {dict(statuses)};"
            f" slowest request {max(p.slowest_s for p in phones):.1f} s"
        )
        assert before > 0 and len(acked) > before
        assert acked <= kept, f"{len(acked - kept)} acknowledged points were lost"
        assert statuses[503] > 0, f"no 503 seen during the outage: {dict(during)}"
        assert all(code in (200, 503) for code in statuses), dict(statuses)
        assert {r for p in phones for r in p.retry_after} <= {"1", "2", "3", "5"}
        assert all(p.retry_after for p in phones if p.statuses[503])
        assert not [x for p in phones for x in p.problems], [p.problems[:3] for p in phones]
        assert max(p.slowest_s for p in phones) < 15, "a request hung during the outage"
    finally:
        if api is not None and api.poll() is None:
            api.terminate()
            with contextlib.suppress(Exception):
                api.wait(timeout=20)
        cluster.destroy()
