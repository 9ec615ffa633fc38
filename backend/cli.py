"""The `fieldsense` command: run the service, manage the embedded database, seed data."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from backend.config import DATA_DIR, Settings, server_options
from backend.db.local import database_url, embedded, run_in_session
from backend.embedded_db import EmbeddedDbError


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def cmd_db(args: argparse.Namespace) -> int:
    from backend.db import migrate

    pg = embedded()
    if args.action == "up":
        pg.start()
        say(f"database ready: {make_url(pg.url).render_as_string(hide_password=True)}")
    elif args.action == "down":
        pg.stop()
    elif args.action == "status":
        print(pg.status())
        if pg.running():
            print(f"revision: {migrate.current(pg.url)}")
    elif args.action == "migrate":
        url = database_url()
        say(f"migrating to {args.revision}")
        migrate.upgrade(url, args.revision)
        say(f"at revision {migrate.current(url)}")
    elif args.action == "destroy":
        pg.destroy()
        say(f"removed {pg.root}")
    return 0


def _print_demo_access(url: str, host: str, port: int) -> None:
    from backend.auth.security import issue_token
    from backend.tenants.demo import DEMO_PASSWORD, DEMO_SLUG, demo_logins, seed_demo

    settings = Settings.from_env()
    demo = run_in_session(url, seed_demo)
    key_file = Path(DATA_DIR) / "demo-store-api-key"
    if demo.store_api_key:
        key_file.write_text(demo.store_api_key)
        key_file.chmod(0o600)
        say(f"seeded demo tenant {DEMO_SLUG}: {json.dumps(demo.counts)}")
    logins = run_in_session(url, lambda s: demo_logins(s, demo.tenant_id))
    tokens = {
        label: issue_token(settings.secret, user.id, demo.tenant_id, settings.token_ttl_s)
        for label, user in logins.items()
    }
    base = f"http://{host}:{port}"
    store_key = (
        key_file.read_text().strip()
        if key_file.exists()
        else "(rotate with POST /store-apps/{id}/rotate-key)"
    )
    print(
        f"""
fieldsense is starting at {base}
  API docs:        {base}/schema/swagger
  manager page:    {base}/manager/  (company {DEMO_SLUG}, a manager below)
  tenant:          {DEMO_SLUG}   (every demo user's password: {DEMO_PASSWORD})
  agent:           {logins["agent"].email}
  manager:         {logins["manager"].email}
  admin:           {logins["admin"].email}

  export AGENT_TOKEN={tokens["agent"]}
  export MANAGER_TOKEN={tokens["manager"]}
  export STORE_API_KEY={store_key}

  try:  curl -H "Authorization: Bearer $AGENT_TOKEN" '{base}/customers?limit=3'
        curl -H "Authorization: Bearer $MANAGER_TOKEN" {base}/org-units
        curl -H "X-API-Key: $STORE_API_KEY" {base}/places
""",
        flush=True,
    )


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from backend.db import migrate

    url = database_url()
    os.environ["DATABASE_URL"] = url
    Settings.from_env()  # creates the local secret once, before workers start
    say("migrating the database to head")
    migrate.upgrade(url)
    if args.demo:
        _print_demo_access(url, args.host, args.port)
    uvicorn.run(
        "backend.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="info",
        **server_options(Settings.from_env()),
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from backend.simrun import run_demo

    if args.agents < 1 or args.stores < 1 or args.minutes <= 0:
        say("--agents, --stores and --minutes must be positive")
        return 2
    return run_demo(args.agents, args.stores, args.minutes, args.port, args.seed, not args.no_sim)


def cmd_eval(args: argparse.Namespace) -> int:
    if args.agents < 1:
        say("--agents must be positive")
        return 2
    json_path = Path(args.json) if args.json else None
    if args.what == "spoof":
        from backend.bench.spoof import run

        run(json_path, args.agents, args.seed, Path(args.gps))
        return 0
    from backend.simrun import EVAL_SCENARIOS, run_eval

    only = frozenset(x.strip() for x in args.scenarios.split(",")) if args.scenarios else None
    if only is not None and not only <= set(EVAL_SCENARIOS):
        unknown = ", ".join(sorted(only - set(EVAL_SCENARIOS)))
        say(f"--scenarios: unknown {unknown} (known: {', '.join(EVAL_SCENARIOS)})")
        return 2
    run_eval(json_path, args.agents, args.seed, Path(args.gps), only)
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    from backend.db import migrate
    from backend.tenants.demo import seed_demo

    url = database_url()
    migrate.upgrade(url)
    demo = run_in_session(url, seed_demo)
    print(json.dumps({"tenant": demo.slug, "created": bool(demo.counts), **demo.counts}))
    return 0


def cmd_tenant(args: argparse.Namespace) -> int:
    from backend.tenants.services import create_tenant

    url = database_url()

    async def _create(session: AsyncSession) -> str:
        t = await create_tenant(
            session,
            slug=args.slug,
            name=args.name,
            admin_email=args.admin_email,
            admin_password=args.admin_password,
        )
        return str(t.tenant.id)

    print(run_in_session(url, _create))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fieldsense", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the API (starts the embedded PostGIS if needed)")
    serve.add_argument("--demo", action="store_true", help="seed the demo tenant and print tokens")
    serve.add_argument("--host", default=os.environ.get("FIELDSENSE_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("FIELDSENSE_PORT", 8000)))
    serve.add_argument("--workers", type=int, default=1, help="API worker processes")
    serve.set_defaults(fn=cmd_serve)

    demo = sub.add_parser(
        "demo",
        help="the service with its demo data, then a simulated working day, then keep serving",
    )
    demo.add_argument("--agents", type=int, default=20)
    demo.add_argument("--stores", type=int, default=5)
    demo.add_argument("--minutes", type=float, default=2.0, help="wall time for the day")
    demo.add_argument("--port", type=int, default=int(os.environ.get("FIELDSENSE_PORT", 8000)))
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--no-sim", action="store_true", help="serve the demo data only")
    demo.set_defaults(fn=cmd_demo)

    ev = sub.add_parser("eval", help="score the system against a simulated ground truth")
    ev.add_argument("what", choices=["visits", "spoof"])
    ev.add_argument("--json", help="write the report here")
    ev.add_argument("--agents", type=int, default=20, help="simulated agents (phones)")
    ev.add_argument(
        "--gps", default="../shared/bench/gps", help="the recorded traces (mopsi/, gpxpy/)"
    )
    ev.add_argument("--seed", type=int, default=7)
    ev.add_argument(
        "--scenarios",
        help="visits: only these, comma-separated (simulated_day, real_traces, "
        "neighbours_no_plans, indoor_multipath, driving_1hz, same_timestamp); default all",
    )
    ev.set_defaults(fn=cmd_eval)

    db = sub.add_parser("db", help="manage the embedded PostGIS under .data/pg")
    db.add_argument("action", choices=["up", "down", "status", "migrate", "destroy"])
    db.add_argument("--revision", default="head", help="for migrate: target revision")
    db.set_defaults(fn=cmd_db)

    seed = sub.add_parser("seed", help="seed the demo tenant (idempotent)")
    seed.add_argument("what", choices=["demo"])
    seed.set_defaults(fn=cmd_seed)

    tenant = sub.add_parser("tenant", help="create a tenant with its HQ and first admin")
    tenant.add_argument("action", choices=["create"])
    tenant.add_argument("--slug", required=True)
    tenant.add_argument("--name", required=True)
    tenant.add_argument("--admin-email", required=True)
    tenant.add_argument("--admin-password", required=True)
    tenant.set_defaults(fn=cmd_tenant)

    roads = sub.add_parser("roads", help="road networks for travel times (docs/routing.md)")
    roads_sub = roads.add_subparsers(dest="roads", required=True)
    roads_import = roads_sub.add_parser(
        "import", help="build the routing graph of an OpenStreetMap extract (.osm.pbf)"
    )
    roads_import.add_argument("file", help="the extract, e.g. seoul.osm.pbf")
    roads_import.add_argument("--profile", choices=["car", "foot"], default="car")
    roads_import.set_defaults(fn=cmd_roads_import)
    roads_install = roads_sub.add_parser("install", help="download OSRM's programs (PyPI)")
    roads_install.set_defaults(fn=cmd_roads_install)
    roads_status = roads_sub.add_parser("status", help="the graphs each profile serves")
    roads_status.set_defaults(fn=cmd_roads_status)

    bench = sub.add_parser("bench", help="run a benchmark (starts its own PostGIS)")
    bench_sub = bench.add_subparsers(dest="bench", required=True)
    ingest = bench_sub.add_parser("ingest", help="end-to-end ingest against raw COPY")
    ingest.add_argument("--json", help="write the report here")
    ingest.add_argument("--fences", type=int, default=10_000)
    ingest.add_argument("--devices", type=int, default=5_000)
    ingest.add_argument("--seconds", type=float, default=15.0, help="per round")
    ingest.add_argument("--rounds", type=int, default=3)
    ingest.add_argument("--batch", type=int, default=200, help="points per request")
    ingest.add_argument("--concurrency", type=int, default=16)
    ingest.add_argument("--workers", type=int, default=2, help="API worker processes")
    ingest.add_argument("--latency-seconds", type=float, default=10.0)
    ingest.add_argument("--rate", type=float, default=200.0, help="single-point requests/s")
    ingest.set_defaults(fn=cmd_bench_ingest)
    bench_routing = bench_sub.add_parser(
        "routing", help="the planner and VROOM on Solomon VRPTW / OPTW instances"
    )
    bench_routing.add_argument(
        "--data", default="../shared/bench/routing", help="directory of instance files"
    )
    bench_routing.add_argument(
        "--best-known",
        default=None,
        help="CSV family,instance,objective,best_known,vehicles (default: DATA/best_known.csv)",
    )
    bench_routing.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help="seconds per instance for both solvers (default: 2 for OPTW, 10 for Solomon)",
    )
    bench_routing.add_argument("--json", help="write the report here")
    bench_routing.set_defaults(fn=cmd_bench_routing)
    nearby = bench_sub.add_parser(
        "nearby", help="free-time suggestions against a bare KNN query, 1M prospects"
    )
    nearby.add_argument("--json", help="write the report here")
    nearby.add_argument("--prospects", type=int, default=1_000_000)
    nearby.add_argument("--queries", type=int, default=500)
    nearby.set_defaults(fn=cmd_bench_nearby)
    travel = bench_sub.add_parser(
        "travel", help="travel on roads: graph build, matrices against OSRM, haversine regret"
    )
    travel.add_argument(
        "--roads", default="../shared/bench/roads", help="directory of .osm.pbf extracts"
    )
    travel.add_argument("--days", type=int, default=20, help="one-agent days per extract")
    travel.add_argument("--json", help="write the report here")
    travel.set_defaults(fn=cmd_bench_travel)
    return parser


def cmd_roads_import(args: argparse.Namespace) -> int:
    from backend.roads.graphs import RoadsImportError, import_extract
    from backend.roads.programs import EngineMissing

    try:
        import_extract(Path(args.file), args.profile, say=say)
    except (RoadsImportError, EngineMissing) as exc:
        say(f"roads import: {exc} (the graph served before, if any, is unchanged)")
        return 1
    say("restart the API to serve it (fieldsense serve / ./dev demo)")
    return 0


def cmd_roads_install(args: argparse.Namespace) -> int:
    from backend.roads.programs import EngineMissing, install

    try:
        say(f"OSRM's programs: {install(say)}")
    except EngineMissing as exc:
        say(f"roads install: {exc}")
        return 1
    return 0


def cmd_roads_status(args: argparse.Namespace) -> int:
    from backend.roads.graphs import current, roads_dir

    for profile in ("car", "foot"):
        graph = current(profile)
        if graph is None:
            print(f"{profile}: no graph under {roads_dir() / profile} (straight-line estimate)")
        else:
            print(f"{profile}: {graph.source} (built in {graph.build_s} s, {graph.folder})")
    return 0


def cmd_bench_travel(args: argparse.Namespace) -> int:
    from backend.bench.travel import cli

    return cli(args)


def cmd_bench_ingest(args: argparse.Namespace) -> int:
    from backend.bench.ingest import cli

    return cli(args)


def cmd_bench_routing(args: argparse.Namespace) -> int:
    from backend.bench.routing import cli

    if args.best_known is None:
        default = Path(args.data) / "best_known.csv"
        args.best_known = str(default) if default.is_file() else None
    return cli(args)


def cmd_bench_nearby(args: argparse.Namespace) -> int:
    from backend.bench.nearby import cli

    return cli(args)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.fn(args)
    except EmbeddedDbError as exc:
        say(f"error: {exc}")
        return 2
    return result


if __name__ == "__main__":
    sys.exit(main())
