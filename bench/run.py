"""Benchmark the real `membergate serve` with wrk; write bench/results/.

    .venv/bin/python -m bench.run            # every scenario, SQLite and PostgreSQL
    .venv/bin/python -m bench.run --smoke    # a few seconds each, small seed

PostgreSQL runs make a scratch database (bench_...) on the server named by
MEMBERGATE_BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres)
and drop it afterwards.
"""

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from bench.disk import commits_per_second
from bench.load import ensure_wrk
from bench.report import targets, write_results
from bench.scenarios import SCENARIOS, Log, Outcome, Plan, run_database

RESULTS = Path(__file__).with_name("results")
DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="seconds, not minutes")
    parser.add_argument(
        "--databases", default="sqlite,postgres", help="sqlite,postgres (default)"
    )
    parser.add_argument("--seconds", type=float, help="per scenario (10; smoke 2)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1, help="serve --workers")
    parser.add_argument("--threads", type=int, default=2, help="serve --threads")
    parser.add_argument("--seed", type=int, help="members for scenarios 5 and 6")
    parser.add_argument("--large-seed", type=int, help="members for scenario 7")
    parser.add_argument("--emails", type=int, help="welcome emails for the worker")
    parser.add_argument(
        "--scenarios", help="numbers to run, e.g. 2,3 (default: all; no targets)"
    )
    parser.add_argument(
        "--output", type=Path, default=RESULTS, help="where latest.md/json go"
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("MEMBERGATE_BENCH_POSTGRES_URL", DEFAULT_POSTGRES),
    )
    return parser.parse_args(argv)


def make_plan(args: argparse.Namespace) -> Plan:
    smoke = args.smoke
    return Plan(
        seconds=args.seconds or (2 if smoke else 10),
        warmup=0 if smoke else 2,
        connections=args.connections,
        wrk_threads=args.wrk_threads,
        workers=args.workers,
        threads=args.threads,
        small_seed=args.seed or (1_000 if smoke else 50_000),
        large_seed=args.large_seed or (5_000 if smoke else 1_000_000),
        emails=args.emails if args.emails is not None else (50 if smoke else 1_000),
        scenarios=_numbers(args.scenarios),
    )


def _numbers(listed: str | None) -> tuple[int, ...]:
    known = tuple(s.number for s in SCENARIOS)
    if not listed:
        return known
    try:
        chosen = tuple(int(n) for n in listed.split(",") if n.strip())
    except ValueError:
        raise SystemExit(f"bench: --scenarios takes numbers, not {listed!r}") from None
    unknown = set(chosen) - set(known)
    if unknown:
        raise SystemExit(f"bench: no scenario {', '.join(map(str, sorted(unknown)))}")
    return chosen


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = make_plan(args)
    ensure_wrk()
    log = Log()
    kinds = [k.strip() for k in args.databases.split(",") if k.strip()]
    unknown = set(kinds) - {"sqlite", "postgres"}
    if unknown:
        raise SystemExit(f"bench: unknown database {', '.join(sorted(unknown))}")

    load_before = os.getloadavg()
    outcomes: list[Outcome] = []
    seeding: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="membergate-bench-") as work:
        disk_before = commits_per_second(Path(work))
        for kind in kinds:
            found, seeded = run_database(kind, plan, Path(work), args.postgres_url, log)
            outcomes.extend(found)
            seeding[kind] = seeded
        disk_after = commits_per_second(Path(work))

    run = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "smoke": args.smoke,
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, {platform.system()}",
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "disk_commits_per_s": [round(disk_before), round(disk_after)],
        "plan": plan.__dict__,
        "seeding": seeding,
        "outcomes": [o.as_dict() for o in outcomes],
        "targets": ([] if args.smoke or args.scenarios else targets(outcomes, seeding)),
    }
    args.output.mkdir(parents=True, exist_ok=True)
    write_results(run, args.output / "latest.md")
    (args.output / "latest.json").write_text(json.dumps(run, indent=2) + "\n")
    log(f"wrote {args.output / 'latest.md'}")
    failed = [o for o in outcomes if o.result and o.result.errors]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
