"""The primary killed under load and its synchronous standby promoted: nothing lost.

A primary and a hot standby streaming from it, the primary committing only once the standby
has the commit on disk (`synchronous_standby_names`: docs/operations.md, "Failover"). The API
runs as its own process with both hosts in `DATABASE_URL` (`target_session_attrs=read-write`),
phones uploading as fast as they can. The primary is killed (immediate shutdown: a crash), the
standby promoted; the same API process finds the new primary by itself. Every point a phone
got a 2xx for is on it; in between the phones got 503 with `Retry-After`, never a 500.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from backend.db import migrate
from backend.db.local import run_in_session
from backend.embedded_db import EmbeddedPostgres, EmbeddedReplica, free_port
from backend.tenants.services import create_tenant
from harness.cluster import agent_phones, both_hosts, stored_points
from harness.simrun import start_api, wait_healthy
from tests.e2e.test_db_restart import PASSWORD, Phone, Sending

PHONES = 3


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_no_acknowledged_point_is_lost_when_the_primary_dies(tmp_path: Path) -> None:
    primary = EmbeddedPostgres(tmp_path / "primary")
    primary.start(fsync=True)
    standby = EmbeddedReplica(tmp_path / "standby", primary=primary)
    api = None
    try:
        migrate.upgrade(primary.url)
        slug = f"failover-{uuid.uuid4().hex[:6]}"
        run_in_session(
            primary.url,
            lambda s: create_tenant(
                s, slug=slug, name="Failover", admin_email="admin@f.test", admin_password=PASSWORD
            ),
        )
        standby.start(fsync=True)
        primary.synchronous(standby.NAME)
        # Seen by the superuser (the service's role is not shown other sessions' states).
        state = "SELECT sync_state FROM pg_stat_replication"
        deadline = time.time() + 30
        while primary._psql(state) != "sync" and time.time() < deadline:
            time.sleep(0.2)
        assert primary._psql(state) == "sync"

        port = free_port()
        log = tmp_path / "api.log"
        api = start_api(
            both_hosts(primary, standby), port, log, {"FIELDSENSE_RATE_DEVICE": "1000000:100000"}
        )
        wait_healthy(port, api, log)
        base = f"http://127.0.0.1:{port}"
        phones = [
            Phone(t, d) for t, d in agent_phones(base, slug, "admin@f.test", PASSWORD, PHONES)
        ]
        sending = Sending.start(base, phones)
        time.sleep(3)
        before = sum(len(p.acked) for p in phones)
        primary.stop("immediate")  # as a crash: no shutdown checkpoint, sessions cut
        killed = time.monotonic()
        standby.promote()
        sending.served_again(within_s=60, every_s=0.1)
        back_s = time.monotonic() - killed
        time.sleep(2)
        sending.finish()
        assert api.poll() is None, "the API process died"

        acked = set().union(*(p.acked for p in phones))
        kept = asyncio.run(stored_points(standby.url, [p.device for p in phones]))
        statuses = Counter[int]()
        for p in phones:
            statuses.update(p.statuses)
        print(
            f"failover: {len(acked)} points acknowledged ({before} before the kill), "
            f"{len(acked - kept)} lost; serving again {back_s:.1f} s after the kill; "
            f"statuses {dict(statuses)}"
        )
        assert before > 0 and len(acked) > before
        assert acked <= kept, f"{len(acked - kept)} acknowledged points were lost"
        assert back_s < 30, back_s
        assert all(code in (200, 503) for code in statuses), dict(statuses)
    finally:
        if api is not None:
            api.terminate()
            api.wait(timeout=30)
        standby.destroy()
        primary.destroy()
