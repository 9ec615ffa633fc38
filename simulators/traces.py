"""Real phones' traces through the API: the `real_traces` scenario of `fieldsense eval visits`.

The recorded traces under `bench/gps` (Mopsi text files, GPX tracks; phones sampling every
1-30 s, walking and driving) are uploaded as new agents' phones would upload them (an agent a
trace: each is another person, recorded on another day), moved in
time to end an hour ago. Where they go comes from the traces alone, by rules that share
nothing with the engine:
- a **stay** is a run of at least 5 minutes whose fixes all lie within 50 m of the median of
  its first ten; each stay gets a customer there, every other one with a 50 m fence whose
  dwell is those 5 minutes (what the scenario calls a visit: a phone that lingers two minutes
  in another trace's customer's fence has not visited it);
- a **drive-by** is a fix moving at 4 m/s or more (over 20 s), at least 400 m from any stay and
  from other drive-bys, at a place the trace only passes (every time it is inside the fence it
  leaves within a minute; a phone that stood there one to four minutes, or was switched on or
  off there, is neither staying nor passing); each gets a plain 50 m fence that the car
  crosses. Several traces were recorded in one town, so only the trace's own phone entering
  its own drive-by's fence is a pass-through (another trace may stay there).

Scored like the simulated day: visits against the stays, and every entry into a drive-by's
fence is a pass-through entry.
"""

from __future__ import annotations

import json
import re
import statistics
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from simulators.api import login
from simulators.gps import distance_m
from simulators.score import figures, score

TRKPT = re.compile(r'<trkpt lat="([-\d.]+)" lon="([-\d.]+)">.*?<time>([^<]+)</time>', re.S)
STAY_M, STAY_S = 50.0, 300.0
MOVING_MPS, DRIVE_SPACING_M = 4.0, 400.0
PASS_S = 60.0  # every pass through a drive-by's fence lasts less
FENCE_M = 50.0


@dataclass(frozen=True, slots=True)
class Point:
    t: float
    lat: float
    lon: float


def read_trace(path: Path) -> list[Point]:
    """Mopsi: `lat lon unix_ms alt` per line; GPX: trkpt with a time. Sorted by time."""
    pts: list[Point] = []
    if path.suffix == ".txt":
        for line in path.read_text().split("\n"):
            parts = line.split()
            if len(parts) >= 3:
                pts.append(Point(int(parts[2]) / 1000, float(parts[0]), float(parts[1])))
    else:
        for lat, lon, ts in TRKPT.findall(path.read_text()):
            t = datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
            pts.append(Point(t, float(lat), float(lon)))
    return sorted(pts, key=lambda p: p.t)


def trace_files(root: Path) -> list[Path]:
    return sorted(root.glob("mopsi/[0-9]*.txt")) + sorted(root.glob("gpxpy/*.gpx"))


def stays(pts: list[Point]) -> list[tuple[float, float, float, float]]:
    """(arrived, departed, lat, lon) of every run of STAY_S or longer within STAY_M."""
    out = []
    i = 0
    while i < len(pts):
        head = pts[i : i + 10]
        lat = statistics.median(p.lat for p in head)
        lon = statistics.median(p.lon for p in head)
        j = i
        while (
            j + 1 < len(pts) and distance_m((lat, lon), (pts[j + 1].lat, pts[j + 1].lon)) <= STAY_M
        ):
            j += 1
        if pts[j].t - pts[i].t >= STAY_S and all(
            distance_m((lat, lon), (p.lat, p.lon)) <= STAY_M for p in head
        ):
            out.append((pts[i].t, pts[j].t, lat, lon))
            i = j + 1
        else:
            i += 1
    return out


def drive_bys(pts: list[Point], avoid: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Places the trace drives through at MOVING_MPS or more, spaced DRIVE_SPACING_M apart."""
    chosen: list[tuple[float, float]] = []
    for k, p in enumerate(pts):
        a = next((q for q in reversed(pts[:k]) if p.t - q.t >= 10), None)
        b = next((q for q in pts[k + 1 :] if q.t - p.t >= 10), None)
        if a is None or b is None or b.t - a.t > 60:
            continue
        speed = distance_m((a.lat, a.lon), (b.lat, b.lon)) / (b.t - a.t)
        here = (p.lat, p.lon)
        if speed < MOVING_MPS:
            continue
        if any(distance_m(here, x) < DRIVE_SPACING_M for x in [*avoid, *chosen]):
            continue
        if not only_passed(pts, here):
            continue
        chosen.append(here)
    return chosen


def only_passed(pts: list[Point], here: tuple[float, float]) -> bool:
    """Whether the trace only ever passes the fence at `here` (its radius and the fixes'
    10 m): every run of fixes inside lasts under PASS_S, and the recording neither starts nor
    ends inside. A place where the phone stood for one to four minutes is neither a stay nor
    a pass (a parked car, a long queue), so it is not scored either way."""
    inside = [distance_m(here, (p.lat, p.lon)) <= FENCE_M + 10 for p in pts]
    if inside[0] or inside[-1]:
        return False
    run_start: float | None = None
    for p, now in zip(pts, inside, strict=True):
        if now and run_start is None:
            run_start = p.t
        elif not now:
            run_start = None
        if run_start is not None and p.t - run_start >= PASS_S:
            return False
    return True


async def post(http: httpx.AsyncClient, path: str, body: Any, h: dict[str, str]) -> Any:
    resp = await http.post(path, json=body, headers=h)
    if resp.status_code >= 300:
        raise RuntimeError(f"POST {path}: {resp.status_code} {resp.text[:300]}")
    return resp.json()


async def admin_and_team(
    http: httpx.AsyncClient, tenant: str, admin_email: str, password: str
) -> tuple[dict[str, str], str]:
    """The admin's bearer headers, and the tenant's first team (where new agents go)."""
    token = await login(http, tenant, admin_email, password)
    admin = {"authorization": f"Bearer {token}"}
    teams = await http.get("/org-units", params={"kind": "team", "limit": 1}, headers=admin)
    teams.raise_for_status()
    return admin, str(teams.json()["items"][0]["id"])


async def new_agent(
    http: httpx.AsyncClient, tenant: str, admin: dict[str, str], unit: str, name: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """A new agent of the team `unit`, and their bearer headers."""
    password = "eval-" + uuid.uuid4().hex[:12]
    email = f"eval-{uuid.uuid4().hex[:8]}@eval.example"
    body = {"email": email, "name": name, "role": "agent", "org_unit_id": unit}
    user = await post(http, "/users", body | {"password": password}, admin)
    token = await login(http, tenant, email, password)
    return user, {"authorization": f"Bearer {token}"}


async def run_traces(
    http: httpx.AsyncClient,
    tenant: str,
    admin: dict[str, str],
    org_unit_id: str,
    gps: Path,
    say: Any,
) -> dict[str, Any]:
    """Upload every trace as a new agent's phone would (one agent a trace: each is another
    person, recorded on another day); the truth, visits and events."""
    truth: list[dict[str, Any]] = []
    users: list[str] = []
    pass_fences: dict[str, str] = {}  # fence -> the device whose trace it was placed on
    devices: list[str] = []
    now = datetime.now(UTC).timestamp()
    files = trace_files(gps)
    for n, path in enumerate(files, 1):
        pts = read_trace(path)
        if len(pts) < 10:
            continue
        shift = (now - 3600) - pts[-1].t
        user, agent = await new_agent(http, tenant, admin, org_unit_id, f"Trace walker {path.stem}")
        users.append(user["id"])
        found = stays(pts)
        drives = drive_bys(pts, [(s[2], s[3]) for s in found])
        for k, (a, b, lat, lon) in enumerate(found):
            customer = await _customer_at(http, admin, org_unit_id, path, k, user, lat, lon)
            truth.append(
                {
                    "agent_id": user["id"],
                    "customer_id": customer,
                    "arrived_at": datetime.fromtimestamp(a + shift, UTC).isoformat(),
                    "departed_at": datetime.fromtimestamp(b + shift, UTC).isoformat(),
                }
            )
        for k, (lat, lon) in enumerate(drives):
            fence = await post(
                http,
                "/geofences",
                {"name": f"{path.stem} drive-by {k}",
                 "circle": {"lat": lat, "lon": lon, "radius_m": FENCE_M}, "dwell_s": int(STAY_S)},
                admin,
            )  # fmt: skip
            pass_fences[fence["id"]] = ""
        device = await _upload(http, admin, agent, user, path, pts, shift)
        devices.append(device)
        for fid, owner in pass_fences.items():
            if not owner:
                pass_fences[fid] = device
        say(
            f"[traces] {n}/{len(files)} {path.name}: {len(pts)} fixes, {len(found)} stays, "
            f"{len(drives)} drive-bys"
        )
    events, visits = await _seen(http, admin, devices, users)
    # Traces of one town cross each other's places: only an entry by the trace's own phone
    # into a fence on its own drive counts (another trace may stop there).
    entries = sum(1 for e in events if pass_fences.get(e.get("fence_id") or "") == e["device_id"])
    return {
        "truth": truth,
        "detected": visits,
        "events": events,
        "pass_through_entries": entries,
        "drive_by_fences": len(pass_fences),
        "traces": len(devices),
    }


async def _customer_at(
    http: httpx.AsyncClient,
    admin: dict[str, str],
    org_unit_id: str,
    path: Path,
    k: int,
    user: dict[str, Any],
    lat: float,
    lon: float,
) -> str:
    """The trace's k-th stay made a customer of its agent; every other one has a fence."""
    customer = await post(
        http,
        "/customers",
        {"name": f"{path.stem} stay {k}", "lat": lat, "lon": lon, "status": "customer",
         "assigned_agent_id": user["id"], "org_unit_id": org_unit_id},
        admin,
    )  # fmt: skip
    if k % 2 == 0:
        await post(
            http,
            "/geofences",
            {"name": f"{path.stem} stay {k}", "customer_id": customer["id"],
             "circle": {"lat": lat, "lon": lon, "radius_m": FENCE_M},
             "dwell_s": int(STAY_S)},
            admin,
        )  # fmt: skip
    return str(customer["id"])


async def _upload(
    http: httpx.AsyncClient,
    admin: dict[str, str],
    agent: dict[str, str],
    user: dict[str, Any],
    path: Path,
    pts: list[Point],
    shift: float,
) -> str:
    """The trace's phone enrolled and its fixes uploaded as it records (1,000 a request),
    then its day ended; its device id."""
    device = await post(
        http,
        "/devices",
        {"name": path.stem, "identifier": f"trace-{uuid.uuid4()}", "user_id": user["id"]},
        admin,
    )
    points = [
        {
            "client_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{path.name}/{i}")),
            "time": datetime.fromtimestamp(p.t + shift, UTC).isoformat(),
            "lat": p.lat,
            "lon": p.lon,
            "accuracy_m": 10,
        }
        for i, p in enumerate(pts)
    ]
    for i in range(0, len(points), 1000):
        await post(
            http,
            "/ingest/locations",
            {"device_id": device["id"], "points": points[i : i + 1000]},
            agent,
        )
    await post(http, "/ingest/day-end", {"device_id": device["id"]}, agent)
    return str(device["id"])


async def _seen(
    http: httpx.AsyncClient, admin: dict[str, str], devices: list[str], users: list[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The phones' entries and the agents' visits at customers, as the API lists them."""
    events: list[dict[str, Any]] = []
    for device in devices:
        resp = await http.get(
            "/events", params={"device_id": device, "kind": "entered", "limit": 500}, headers=admin
        )
        resp.raise_for_status()
        events += resp.json()["items"]
    visits = []
    for uid in users:
        resp = await http.get("/visits", params={"agent_id": uid, "limit": 500}, headers=admin)
        resp.raise_for_status()
        visits += [v for v in resp.json()["items"] if v["customer_id"] is not None]
    return events, visits


async def real_traces(
    base_url: str,
    tenant: str,
    admin_email: str,
    password: str,
    gps: Path,
    say: Any,
    out_dir: Path | None = None,
) -> dict[str, Any]:
    """The scenario on a running API: its figures, scored like the simulated day (the truth
    and what was detected are written to `out_dir`)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=120, trust_env=False) as http:
        admin, unit = await admin_and_team(http, tenant, admin_email, password)
        got = await run_traces(http, tenant, admin, unit, gps, say)
    if out_dir is not None:
        _write(out_dir, got)
    s = score(got["truth"], got["detected"], [], got["traces"])
    return figures(
        s,
        got["pass_through_entries"],
        drive_by_fences=got["drive_by_fences"],
        traces=got["traces"],
    )


def _write(out_dir: Path, got: dict[str, Any]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "truth.json").write_text(json.dumps({"visits": got["truth"]}, indent=1))
    detected = {"visits": got["detected"], "events": got["events"]}
    (out_dir / "detected.json").write_text(json.dumps(detected, indent=1))
