"""The `fieldsense` command: run the service, manage the embedded database, seed data."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import NoReturn

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
    if args.action == "replica":
        return cmd_replica(args.replica_action or "status", args.sync)
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


def cmd_replica(action: str, sync: bool = False) -> int:
    """`fieldsense db replica up [--sync]|down|status|promote|destroy`: the embedded cluster's
    hot standby. Reads go to it when FIELDSENSE_READ_DATABASE_URL names it (the URL `up`
    prints); with --sync, no commit is acknowledged before the standby has it (failover
    without loss; docs/operations.md)."""
    from backend.db.local import embedded_replica

    replica = embedded_replica()
    assert replica.primary is not None
    if action == "up":
        replica.primary.start()  # the primary's access rules let the standby stream
        replica.start()
        replica.primary.synchronous(replica.NAME if sync else None)
        url = make_url(replica.url).render_as_string(hide_password=True)
        say(f"standby ready: FIELDSENSE_READ_DATABASE_URL={url} (password: the primary's)")
    elif action == "down":
        if replica.primary.running():
            replica.primary.synchronous(None)  # else every commit would wait for it
        replica.stop()
    elif action == "promote":
        replica.promote()
        say("the standby is a primary now: point DATABASE_URL at it (or list both hosts)")
    elif action == "destroy":
        replica.destroy()
        say(f"removed {replica.root}")
    else:
        print(replica.status())
        if replica.running():
            print(replica.lag())
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


def cmd_worker(args: argparse.Namespace) -> int:
    """The periodic jobs without the HTTP API: the app's start-up (jobs, the live feed's
    numbering) and shut-down, around a wait for SIGINT or SIGTERM. Shared jobs (webhook
    delivery, nightly planning) are drained by every API and worker process."""
    import asyncio
    import signal

    from backend.app import create_app
    from backend.db import migrate

    url = database_url()
    os.environ["DATABASE_URL"] = url
    os.environ["FIELDSENSE_JOBS"] = "1"
    migrate.upgrade(url)
    app = create_app(Settings.from_env())

    async def work() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with app.lifespan():
            say("worker: running the periodic jobs (no HTTP)")
            await stop.wait()
        say("worker: stopped")

    asyncio.run(work())
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
    worker = sub.add_parser(
        "worker", help="run the periodic jobs without serving HTTP (more of them: more throughput)"
    )
    worker.set_defaults(fn=cmd_worker)
    for name, text in HARNESS.items():  # listed for --help; main() hands them over
        sub.add_parser(name, help=text, add_help=False)

    db = sub.add_parser("db", help="manage the embedded PostGIS under .data/pg")
    db.add_argument("action", choices=["up", "down", "status", "migrate", "destroy", "replica"])
    db.add_argument(
        "replica_action",
        nargs="?",
        choices=["up", "down", "status", "promote", "destroy"],
        help="for replica: a hot standby of the embedded cluster (docs/operations.md)",
    )
    db.add_argument(
        "--sync",
        action="store_true",
        help="for replica up: the primary commits only once the standby has it on disk",
    )
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


# The commands of the harness (harness/cli.py), which drives the backend with the simulators:
# run as `python -m harness` in this process's place, so the backend never imports them.
HARNESS = {
    "demo": "the service with its demo data, then a simulated working day, then keep serving",
    "eval": "score the system against a simulated ground truth",
    "bench": "run a benchmark (starts its own PostGIS)",
}


def run_harness(argv: list[str]) -> NoReturn:
    # The same interpreter, in this process (its pid, its signals: Ctrl-C reaches the demo).
    os.execv(sys.executable, [sys.executable, "-m", "harness", *argv])  # noqa: S606 - no shell


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in HARNESS:
        run_harness(argv)
    return run(build_parser(), argv)


def run(parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    """Parse and run the command chosen (its `fn`); an embedded database that cannot start
    is said plainly, with exit status 2."""
    args = parser.parse_args(argv)
    try:
        result: int = args.fn(args)
    except EmbeddedDbError as exc:
        say(f"error: {exc}")
        return 2
    return result


if __name__ == "__main__":
    sys.exit(main())
