"""`fieldsense bench ingest` end to end at toy scale: it starts what it needs, the load
reaches the API over HTTP, and the JSON summary holds exactly the figures issue 3 names."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from harness.bench.ingest import IngestBenchConfig, run

KEYS = {"pings_per_s", "copy_rows_per_s", "ratio", "events", "fences", "p50_ms", "p99_ms"}


def test_ingest_bench_at_toy_scale(tmp_path: Path) -> None:
    cfg = IngestBenchConfig(
        fences=40,
        devices=10,
        seconds=2.0,
        rounds=1,
        batch=50,
        concurrency=2,
        workers=1,
        latency_seconds=1.0,
        rate=20.0,
    )
    out = tmp_path / "ingest.json"
    report = run(cfg, out)
    summary = json.loads(out.read_text())["summary"]
    assert set(summary) == KEYS
    assert summary == report["summary"]
    assert summary["fences"] == 40
    assert summary["pings_per_s"] > 0 and summary["copy_rows_per_s"] > 0
    assert summary["ratio"] == round(summary["pings_per_s"] / summary["copy_rows_per_s"], 4)
    assert summary["p50_ms"] <= summary["p99_ms"]
    assert report["latency"]["errors"] == 0
    assert all(r["errors"] == 0 and r["points_stored"] > 0 for r in report["rounds"])
    # Each round's phones continue their day: nothing they send is late, so nothing is
    # stored as a duplicate or a replay of the latency phones' live points.
    assert all(r["points_stored"] == r["points_sent"] for r in report["rounds"])
    # The database alone, for as many rows as the COPY (whole batches): every point stored
    # (fresh keys), and its bound on the ratio against the same COPY.
    alone = report["database_alone"]
    stored = int(statistics.median(r["points_stored"] for r in report["rounds"]))
    assert len(alone["runs"]) == 3
    assert all(a["rows"] == -(-stored // cfg.batch) * cfg.batch for a in alone["runs"])
    assert alone["rows_per_s"] == round(
        statistics.median(a["rows_per_s"] for a in alone["runs"]), 1
    )
    assert alone["ratio_to_copy"] == pytest.approx(
        alone["rows_per_s"] / summary["copy_rows_per_s"], rel=1e-3
    )
    assert alone["server_cpu_us_per_row"] > 0
    # Where the CPU of each round went, per ping stored.
    assert all(
        r["api_cpu_us_per_ping"] > 0 and r["server_cpu_us_per_ping"] > 0 for r in report["rounds"]
    )
