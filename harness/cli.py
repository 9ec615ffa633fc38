"""`python -m harness` (and `fieldsense demo | eval | bench`, which hand over to it): the demo
with its simulated day, the evals and the benchmarks. Each starts what it needs itself."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from backend.cli import run, say


def cmd_demo(args: argparse.Namespace) -> int:
    from harness.simrun import run_demo

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
        from harness.bench.spoof import run

        run(json_path, args.agents, args.seed, Path(args.gps))
        return 0
    from harness.simrun import EVAL_SCENARIOS, run_eval

    only = frozenset(x.strip() for x in args.scenarios.split(",")) if args.scenarios else None
    if only is not None and not only <= set(EVAL_SCENARIOS):
        unknown = ", ".join(sorted(only - set(EVAL_SCENARIOS)))
        say(f"--scenarios: unknown {unknown} (known: {', '.join(EVAL_SCENARIOS)})")
        return 2
    run_eval(json_path, args.agents, args.seed, Path(args.gps), only)
    return 0


def cmd_bench_travel(args: argparse.Namespace) -> int:
    from harness.bench.travel import cli

    return cli(args)


def cmd_bench_ingest(args: argparse.Namespace) -> int:
    from harness.bench.ingest import cli

    return cli(args)


def cmd_bench_routing(args: argparse.Namespace) -> int:
    from harness.bench.routing import cli

    if args.best_known is None:
        default = Path(args.data) / "best_known.csv"
        args.best_known = str(default) if default.is_file() else None
    return cli(args)


def cmd_bench_live(args: argparse.Namespace) -> int:
    from harness.bench.live import cli

    return cli(args)


def cmd_bench_failover(args: argparse.Namespace) -> int:
    from harness.bench.failover import cli

    return cli(args)


def cmd_bench_week(args: argparse.Namespace) -> int:
    from harness.bench.week import cli

    return cli(args)


def cmd_bench_nearby(args: argparse.Namespace) -> int:
    from harness.bench.nearby import cli

    return cli(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fieldsense", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

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

    bench = sub.add_parser("bench", help="run a benchmark (starts its own PostGIS)")
    _bench_commands(bench.add_subparsers(dest="bench", required=True))
    return parser


def _bench_commands(bench_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`fieldsense bench NAME`: ingest, live, routing, week, failover, nearby, travel."""
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
    live = bench_sub.add_parser(
        "live", help="live streams under a steady ingest, across two API processes"
    )
    live.add_argument("--json", help="write the report here")
    live.add_argument("--subscribers", type=int, default=200)
    live.add_argument("--rate", type=float, default=2000.0, help="points per second")
    live.add_argument("--batch", type=int, default=25, help="points per upload")
    live.add_argument("--teams", type=int, default=50, help="of 10 agents each")
    live.add_argument("--seconds", type=float, default=60.0)
    live.set_defaults(fn=cmd_bench_live)
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
    failover = bench_sub.add_parser(
        "failover", help="a synchronous standby promoted under load; planning over workers"
    )
    failover.add_argument("--phones", type=int, default=4)
    failover.add_argument("--seconds", type=float, default=10.0, help="per replication mode")
    failover.add_argument("--agents", type=int, default=20, help="agents to plan")
    failover.add_argument("--json", help="write the report here")
    failover.set_defaults(fn=cmd_bench_failover)
    week = bench_sub.add_parser(
        "week", help="agents' working weeks planned whole, against each day planned alone"
    )
    week.add_argument("--agents", type=int, default=20, help="agent-weeks to plan")
    week.add_argument("--seed", type=int, default=1)
    week.add_argument("--time-limit", type=float, default=5.0, help="solver seconds per agent-week")
    week.add_argument("--json", help="write the report here")
    week.set_defaults(fn=cmd_bench_week)
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


def main(argv: list[str] | None = None) -> int:
    return run(build_parser(), argv)
