"""The planner's process pool does not outlive the process that owns it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

OWNER = """
import os
import sys

from backend.plans.pool import planner_pool, warm_pool

if __name__ == "__main__":
    warm_pool()
    pool = planner_pool()
    pids = {pool.submit(os.getpid).result() for _ in range(8)}
    with open(sys.argv[1], "w") as out:
        out.write(" ".join(map(str, sorted(pids))))
    os._exit(0)  # dies without shutting the pool down
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_workers_exit_when_the_owner_dies_without_shutting_the_pool_down(tmp_path: Path) -> None:
    script, found = tmp_path / "owner.py", tmp_path / "pids"
    script.write_text(OWNER)
    subprocess.run(
        [sys.executable, str(script), str(found)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
        timeout=120,
        cwd=Path(__file__).parents[3],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[3])},
    )
    pids = [int(p) for p in found.read_text().split()]
    assert pids
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.2)
    assert not any(alive(p) for p in pids)
