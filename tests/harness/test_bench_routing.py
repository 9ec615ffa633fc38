"""`fieldsense bench routing` end to end on a small directory of instance files: the report
has the summary keys the issue names, every instance is solved, and the rows say which
search found each answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.bench import routing as bench

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "bench" / "routing"

pytestmark = pytest.mark.skipif(
    not (SHARED / "solomon" / "C101.txt").exists(),
    reason="../shared/bench is not beside the project",
)


def test_report_on_a_small_directory(tmp_path: Path) -> None:
    data = tmp_path / "instances"
    data.mkdir()
    # Solomon C101 cut to its depot and first 25 customers (a published size of its own).
    lines = (SHARED / "solomon" / "C101.txt").read_text().splitlines()
    head = next(i for i, line in enumerate(lines) if line.strip().startswith("0 "))
    (data / "c101_25.txt").write_text("\n".join(lines[: head + 26]) + "\n")
    (data / "c101.txt").write_text((SHARED / "optw" / "c101.txt").read_text())
    out = tmp_path / "report.json"

    report = bench.run(data, SHARED / "best_known.csv", 0.5, out)

    assert json.loads(out.read_text()) == report
    assert set(report["summary"]) == {
        "optw_mean_gap_pct",
        "optw_vroom_mean_gap_pct",
        "optw_worse_than_vroom",
        "solomon_mean_gap_pct",
        "solomon_vroom_mean_gap_pct",
        "solomon_worse_than_vroom",
        "infeasible",
        "instances",
    }
    assert report["summary"]["instances"] == 2
    assert report["summary"]["infeasible"] == 0
    rows = {row["family"]: row for row in report["rows"]}
    assert rows["solomon"]["ours"] is not None and rows["solomon"]["vroom"] is not None
    assert rows["solomon"]["strategy"].startswith("SISR+")
    assert rows["optw"]["strategy"].startswith("ILS+")
    # The OPTW file has a proven optimum in the CSV; the cut Solomon file has none.
    assert rows["optw"]["best_known"] == 320
    assert rows["solomon"]["best_known"] is None
    assert report["day"]["runs"] == 5
