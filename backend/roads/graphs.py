"""Routing graphs built from OpenStreetMap extracts, cached under ``.data/roads``.

``import_extract`` runs OSRM's extract → contract (contraction hierarchies: 150 x 150 tables
answer two to four times faster than with the multi-level Dijkstra pipeline on the bench
extracts, docs/routing.md) into a fresh folder named by the extract's SHA-256 and the profile,
then points ``<profile>/current`` at it. The same file
imported again reuses the folder; a failed import leaves ``current`` and the graph it serves
as they were.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import osmium

from backend.config import DATA_DIR
from backend.roads import programs

PROFILES = {"car": "car", "foot": "foot"}  # our name → OSRM's Lua profile
STEPS = ("osrm-extract", "osrm-contract")
# OSRM snaps a point to the nearest road of a "big" component (and an alternative); with its
# default threshold of 1,000 nodes every component of a small extract is small, and each snap
# then searches the whole tree (0.3 ms a point, 150-point tables three times slower on a
# 1 x 1.7 km extract). A component is small here below 5% of the extract's road nodes, and
# never above OSRM's default.
SMALL_COMPONENT_SHARE = 0.05
CAR_ROADS = frozenset(
    {
        "motorway", "trunk", "primary", "secondary", "tertiary", "unclassified", "residential",
        "living_street", "service", "motorway_link", "trunk_link", "primary_link",
        "secondary_link", "tertiary_link",
    }
)  # fmt: skip
FOOT_ONLY = {"track", "pedestrian", "footway", "path", "steps", "cycleway"}
ROAD_TAGS = {"car": CAR_ROADS, "foot": CAR_ROADS | FOOT_ONLY}


class RoadsImportError(ValueError):
    """The extract cannot become a routing graph; the message names the file."""


@dataclass(frozen=True, slots=True)
class Graph:
    profile: str
    folder: Path
    source: str
    sha256: str
    build_s: float
    reused: bool = False

    @property
    def base(self) -> Path:
        """The path OSRM's programs take (``graph.osrm``; its files are ``graph.osrm.*``)."""
        return self.folder / "graph.osrm"


def roads_dir() -> Path:
    return Path(os.environ.get("FIELDSENSE_ROADS_DIR", DATA_DIR / "roads"))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _reason(output: str) -> str:
    """The line of OSRM's output that says what went wrong."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in reversed(lines):
        if "what():" in line:
            return line.split("what():", 1)[1].strip()
        if "[error]" in line:
            return re.sub(r"src/\S+:\d+$", "", line.split("[error]", 1)[1]).strip()
    return lines[-1] if lines else "no output"


def road_node_count(path: Path, profile: str) -> int:
    """Node references of the extract's roads that the profile may use (by highway tag)."""
    total = 0
    ways = osmium.FileProcessor(str(path), osmium.osm.WAY)
    for way in ways.with_filter(osmium.filter.KeyFilter("highway")):
        if isinstance(way, osmium.osm.Way) and way.tags.get("highway") in ROAD_TAGS[profile]:
            total += len(way.nodes)
    return total


def current(profile: str, root: Path | None = None) -> Graph | None:
    """The graph a profile serves now, or None."""
    base = (root or roads_dir()) / profile
    try:
        name = (base / "current").read_text().strip()
        meta = json.loads((base / name / "meta.json").read_text())
    except (OSError, ValueError):
        return None
    return Graph(profile, base / name, meta["source"], meta["sha256"], meta["build_s"])


def import_extract(
    source: Path,
    profile: str = "car",
    root: Path | None = None,
    say: Callable[[str], None] = print,
) -> Graph:
    """Build (or reuse) the routing graph of an ``.osm.pbf`` extract and make it current."""
    if profile not in PROFILES:
        raise RoadsImportError(f"profile {profile!r}: choose one of {', '.join(PROFILES)}")
    source = source.resolve()
    if not source.is_file():
        raise RoadsImportError(f"{source}: no such file")
    if source.stat().st_size == 0:
        raise RoadsImportError(f"{source}: the file is empty")
    base = (root or roads_dir()) / profile
    base.mkdir(parents=True, exist_ok=True)
    sha = _sha256(source)
    name = f"{sha[:16]}-osrm{programs.OSRM_VERSION}"
    folder = base / name
    if (folder / "meta.json").exists():
        meta = json.loads((folder / "meta.json").read_text())
        _make_current(base, name)
        say(f"{source.name}: unchanged since it was built ({profile}), reusing {folder}")
        return Graph(profile, folder, meta["source"], sha, meta["build_s"], reused=True)
    programs.install(say)
    staging = Path(tempfile.mkdtemp(prefix=".build-", dir=base))
    try:
        (staging / "graph.osm.pbf").symlink_to(source)
        t0 = time.perf_counter()
        try:
            nodes = road_node_count(source, profile)
        except RuntimeError as exc:  # osmium's errors for what is not a PBF file
            raise RoadsImportError(
                f"{source}: not a readable OpenStreetMap PBF extract ({exc})"
            ) from exc
        if nodes == 0:
            raise RoadsImportError(
                f"{source}: it holds no roads that the {profile} profile can use"
            )
        small = max(20, min(1000, int(nodes * SMALL_COMPONENT_SHARE)))
        for step, program in enumerate(STEPS, 1):
            say(f"{source.name}: step {step}/{len(STEPS)}, {program} ({profile})")
            args = [str(programs.program(program))]
            if program == "osrm-extract":
                args += ["-p", str(programs.profile_path(PROFILES[profile]))]
                args += ["--small-component-size", str(small), "graph.osm.pbf"]
            else:
                args.append("graph.osrm")
            done = subprocess.run(  # noqa: S603 - our own programs, arguments we built
                args, cwd=staging, capture_output=True, text=True, check=False
            )
            if done.returncode != 0:
                reason = _reason(done.stdout + done.stderr)
                if "no edges remaining" in reason:
                    reason = f"it holds no roads that the {profile} profile can use"
                elif program == "osrm-extract":
                    reason = f"not a readable OpenStreetMap PBF extract ({reason})"
                raise RoadsImportError(f"{source}: {reason}")
        build_s = round(time.perf_counter() - t0, 3)
        (staging / "graph.osm.pbf").unlink()
        meta = {
            "source": str(source),
            "sha256": sha,
            "profile": profile,
            "osrm": programs.OSRM_VERSION,
            "build_s": build_s,
            "road_nodes": nodes,
            "small_component_size": small,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        (staging / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        shutil.rmtree(folder, ignore_errors=True)
        staging.rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _make_current(base, name)
    say(f"{source.name}: built in {build_s:.1f} s, now serving {profile} from {folder}")
    return Graph(profile, folder, str(source), sha, build_s)


def _make_current(base: Path, name: str) -> None:
    pointer = base / ".current.tmp"
    pointer.write_text(name + "\n")
    os.replace(pointer, base / "current")
