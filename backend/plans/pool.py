"""The process pool the planner's searches run in, one per API process, made on first use.

OR-Tools holds the GIL while it searches; in worker processes it cannot stall the event loop.
`forkserver` because forking a process that runs an event loop and threads is unsafe.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor

from routing.core import worker_count

_pool: ProcessPoolExecutor | None = None


def planner_pool() -> ProcessPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ProcessPoolExecutor(
            max_workers=worker_count(),
            mp_context=multiprocessing.get_context("forkserver"),
            initializer=_outlive_not,
            initargs=(os.getpid(),),
        )
    return _pool


def _outlive_not(owner: int, every_s: float = 2.0) -> None:
    """In each worker: exit once the API process that owns the pool is gone. A worker's
    parent is multiprocessing's fork server, not that process, and a worker waits on its
    task queue forever when the owner dies without shutting the pool down (seen after
    `fieldsense serve` stopped: the workers stayed, idle, until killed)."""

    def watch() -> None:
        while True:
            time.sleep(every_s)
            try:
                os.kill(owner, 0)
            except ProcessLookupError:
                os._exit(0)
            except PermissionError:
                pass  # alive, under another user

    threading.Thread(target=watch, name="pool-owner-watch", daemon=True).start()


def _ready() -> bool:
    import routing.core  # noqa: F401 - loads OR-Tools in the worker
    from routing import sisr

    sisr.warm()  # its compiled search, from numba's cache once built
    return True


def warm_pool() -> None:
    """Start the workers and load OR-Tools and the compiled searches in them now, not on the
    first plan (~2 s; the first time after an install, ~10 s to compile)."""
    pool = planner_pool()
    for _ in range(worker_count()):
        pool.submit(_ready)


def shutdown_pool() -> None:
    global _pool
    if _pool is not None:
        _pool.shutdown(wait=False, cancel_futures=True)
        _pool = None
