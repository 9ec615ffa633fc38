"""The baselines of `fieldsense bench ingest`: a raw COPY into the same table, and the
database's share of the ingest alone (the statements every point requires, driven with no
HTTP, no JSON, no engine); and the CPU seconds of the API's and PostgreSQL's processes."""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from backend.db.tenancy import APP_ROLE, NO_JIT
from backend.embedded_db import EmbeddedPostgres
from backend.tracking.ingest import DEVICE, ingest_transaction, store_points, warm
from backend.tracking.matching import match_fences
from backend.tracking.points import parse_points
from geofence.device import EngineConfig
from simulators.load import phones


def dsn(url: str) -> str:
    """A SQLAlchemy URL as asyncpg takes it."""
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def copy_rate(
    url: str, device_ids: list[uuid.UUID], tenant_id: uuid.UUID, rows: int, seed: int
) -> float:
    """Raw COPY of `rows` pings into the same table (fresh keys): rows per second."""
    rng = random.Random(1000 + seed)
    now = datetime.now(UTC)
    records = [
        (
            tenant_id,
            device_ids[i % len(device_ids)],
            uuid.UUID(int=rng.getrandbits(128), version=4),
            now,
            now,
            37.5 + rng.random() * 0.1,
            127.0 + rng.random() * 0.1,
            10.0,
            False,
        )
        for i in range(rows)
    ]
    db = await asyncpg.connect(dsn(url))
    try:
        t0 = time.perf_counter()
        await db.copy_records_to_table(
            "pings",
            records=records,
            columns=[
                "tenant_id",
                "device_id",
                "client_id",
                "fix_time",
                "received_at",
                "lat",
                "lon",
                "accuracy_m",
                "mock",
            ],
        )
        return rows / (time.perf_counter() - t0)
    finally:
        await db.close()


def cpu_s(root: int) -> float | None:
    """CPU seconds used so far by a process and its children (live ones: a connection's
    backend must still be open when this is read), from /proc."""
    try:
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # gone meanwhile
            if int(entry.name) == root or int(fields[1]) == root:
                total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / tick
    except (OSError, ValueError, IndexError):
        return None  # not Linux, or not readable: the figure is left out


def server_cpu_s(pg: EmbeddedPostgres) -> float | None:
    """CPU seconds used so far by the cluster's processes (the postmaster and its children)."""
    try:
        postmaster = int((pg.datadir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return cpu_s(postmaster)


def per_row_us(before: float | None, after: float | None, rows: int) -> float | None:
    if before is None or after is None or not rows:
        return None
    return (after - before) * 1e6 / rows


async def database_alone(
    pg: EmbeddedPostgres,
    devices: list[dict[str, Any]],
    tenant_id: uuid.UUID,
    rows: int,
    batch: int,
    concurrency: int,
    run_no: int,
) -> dict[str, Any]:
    """The database's share of an upload, alone: the API's own statements for what every point
    requires (lock the device's state, store the point under its key, match it against the
    fences in PostGIS, the watch list), a batch a transaction on `concurrency` connections as
    the app role, driven from here: no HTTP, no JSON, no engine, no events.

    What this sustains bounds the end-to-end figure on the machine; its ratio to the COPY
    bounds the end-to-end ratio. Batches are parsed before the clock starts."""
    fleet = phones({"devices": devices}, history_s=90 * 60, seed=10_000 + run_no)
    received = datetime.now(UTC)
    n_batches = max(1, -(-rows // batch))
    todo = []
    for i in range(n_batches):
        phone = fleet[i % len(fleet)]
        good, _, _ = parse_points(phone.walk(batch), received)
        todo.append((uuid.UUID(phone.device_id), good))
    max_accuracy = EngineConfig().filters.max_accuracy_m
    conns = [
        await asyncpg.connect(dsn(pg.url), server_settings={**NO_JIT, "role": APP_ROLE})
        for _ in range(concurrency)
    ]
    stored = 0
    next_batch = 0

    async def uploader(db: asyncpg.Connection) -> None:
        nonlocal stored, next_batch
        while next_batch < len(todo):
            device_id, good = todo[next_batch]
            next_batch += 1
            async with ingest_transaction(db, tenant_id):  # the API's, round trip for round trip
                if await db.fetchrow(DEVICE, tenant_id, device_id) is None:
                    raise RuntimeError(f"device {device_id} not found")
                new = await store_points(db, tenant_id, device_id, good, received)
                fixes = [g.fix for g in good]
                await match_fences(db, tenant_id, fixes, max_accuracy, fixes[-1])
            stored += len(new)

    try:
        for db in conns:
            await warm(db)
        cpu0 = server_cpu_s(pg)
        t0 = time.perf_counter()
        await asyncio.gather(*(uploader(db) for db in conns))
        elapsed = time.perf_counter() - t0
        cpu1 = server_cpu_s(pg)
    finally:
        for db in conns:
            await db.close()
    return {
        "rows": stored,
        "seconds": elapsed,
        "rows_per_s": stored / elapsed,
        "server_cpu_us_per_row": per_row_us(cpu0, cpu1, stored),
    }
