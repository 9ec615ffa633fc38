"""Recorded GPS traces read into fixes: Mopsi text files and GPX tracks.

For replaying real phones through the engine (tests, `fieldsense eval spoof`). Neither format
records accuracy: every fix gets `accuracy_m`.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from geofence.types import Fix

TRKPT = re.compile(r'<trkpt lat="([-\d.]+)" lon="([-\d.]+)">.*?<time>([^<]+)</time>', re.S)


def trace_files(root: Path) -> list[Path]:
    """The traces under a `bench/gps` folder: mopsi/*.txt and gpxpy/*.gpx."""
    return sorted(root.glob("mopsi/[0-9]*.txt")) + sorted(root.glob("gpxpy/*.gpx"))


def load_trace(path: Path, accuracy_m: float = 15.0) -> list[Fix]:
    """Mopsi: `lat lon unix_ms alt` per line; GPX: trkpt with a time. In file order."""
    out: list[Fix] = []
    if path.suffix == ".txt":
        for i, line in enumerate(path.read_text().split("\n")):
            parts = line.split()
            if len(parts) >= 3:
                t = int(parts[2]) / 1000
                out.append(Fix(f"{path.stem}-{i}", t, float(parts[0]), float(parts[1]), accuracy_m))
    else:
        for i, (lat, lon, ts) in enumerate(TRKPT.findall(path.read_text())):
            t = datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
            out.append(Fix(f"{path.stem}-{i}", t, float(lat), float(lon), accuracy_m))
    return out
