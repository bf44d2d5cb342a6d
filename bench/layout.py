"""Compare server layouts: serve --workers x --threads, and wrk connections.

    .venv/bin/python -m bench.layout [--databases sqlite] [--seconds 5]

Writes bench/results/layout.md (and layout.json).
"""

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from bench.disk import commits_per_second
from bench.load import LoadResult, run_wrk
from bench.run import DEFAULT_POSTGRES, RESULTS
from bench.scenarios import Log, api_available
from bench.seed import create_api_key, create_memberships, seed_members
from bench.service import Database, MemoryPeak, Server

LAYOUTS = [(1, 1), (1, 2), (1, 4), (1, 16), (2, 1), (2, 2)]
CONNECTIONS = [4, 16, 64]


def measure_layout(
    kind: str,
    workers: int,
    threads: int,
    seconds: float,
    work_dir: Path,
    postgres_url: str,
    log: Log,
    connection_counts: list[int],
) -> list[dict[str, object]]:
    data_dir = work_dir / f"{kind}-{workers}x{threads}"
    database = Database(kind, data_dir, postgres_url)
    server = Server(database, data_dir)
    rows: list[dict[str, object]] = []
    try:
        server.start(workers, threads)
        memberships = create_memberships(server, ["Gold", "Silver", "Bronze"])
        api_key = create_api_key(server, "bench")
        seed_members(server, 1, 1000, memberships)
        scenarios = ["insert"]
        if api_available(server, api_key):
            scenarios.append("create")
        env = {
            "BENCH_API_KEY": api_key,
            "BENCH_MEMBERSHIPS": ",".join(map(str, memberships[:2])),
        }
        for scenario in scenarios:
            for connections in connection_counts:
                prefix = f"c{connections}"
                run_wrk(
                    server.base_url,
                    scenario,
                    seconds=1,
                    connections=connections,
                    threads=2,
                    env={**env, "BENCH_PREFIX": f"warm-{prefix}"},
                )
                with MemoryPeak(server.pid) as memory:
                    result = run_wrk(
                        server.base_url,
                        scenario,
                        seconds=seconds,
                        connections=connections,
                        threads=2,
                        env={**env, "BENCH_PREFIX": prefix},
                    )
                row = _row(kind, workers, threads, scenario, connections, result)
                row["peak_rss_mb"] = round(memory.peak / 2**20)
                log(json.dumps(row))
                rows.append(row)
    finally:
        server.stop()
        database.drop()
        shutil.rmtree(data_dir, ignore_errors=True)
    return rows


def _row(
    kind: str,
    workers: int,
    threads: int,
    scenario: str,
    connections: int,
    result: LoadResult,
) -> dict[str, object]:
    return {
        "database": kind,
        "workers": workers,
        "threads": threads,
        "scenario": scenario,
        "connections": connections,
        "rate": round(result.rate),
        "p50_ms": round(result.p50_ms, 1),
        "p99_ms": round(result.p99_ms, 1),
        "errors": result.errors,
    }


def write_layout(rows: list[dict[str, object]], header: str, path: Path) -> None:
    lines = [
        "# Server layouts compared",
        "",
        header,
        "",
        "| database | scenario | workers x threads | connections | req/s"
        " | p50 ms | p99 ms | errors | peak RSS MB |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['database']} | {r['scenario']} | {r['workers']} x {r['threads']}"
            f" | {r['connections']} | {r['rate']:,} | {r['p50_ms']} | {r['p99_ms']}"
            f" | {r['errors']} | {r['peak_rss_mb']} |"
        )
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.layout")
    parser.add_argument("--databases", default="sqlite")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument(
        "--layouts",
        default=",".join(f"{w}x{t}" for w, t in LAYOUTS),
        help="WORKERSxTHREADS,... (default %(default)s)",
    )
    parser.add_argument(
        "--connections",
        default=",".join(map(str, CONNECTIONS)),
        help="wrk connections to try, comma-separated (default %(default)s)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("MEMBERGATE_BENCH_POSTGRES_URL", DEFAULT_POSTGRES),
    )
    args = parser.parse_args(argv)
    log = Log()
    layouts = [tuple(map(int, item.split("x"))) for item in args.layouts.split(",")]
    rows: list[dict[str, object]] = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="membergate-layout-") as work:
        disk = commits_per_second(Path(work))
        for kind in args.databases.split(","):
            for workers, threads in layouts:
                rows += measure_layout(
                    kind, workers, threads, args.seconds, Path(work),
                    args.postgres_url, log,
                    [int(c) for c in args.connections.split(",")],
                )  # fmt: skip
    header = (
        f"Taken {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on"
        f" {os.cpu_count()} cores shared with other work (load average before"
        f" {[round(x, 2) for x in load_before]}; the disk took {disk:.0f} durable"
        f" commits a second), wrk with 2 threads on the same cores,"
        f" {args.seconds:g} s per cell after a 1 s warm-up."
    )
    args.output.mkdir(parents=True, exist_ok=True)
    write_layout(rows, header, args.output / "layout.md")
    (args.output / "layout.json").write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
