"""Profile one scenario's hot path under load with pyinstrument.

    .venv/bin/python -m bench.profile create [--database sqlite]

Runs granian with the same options `membergate serve` uses, one worker and
one request thread, on bench.profiled (Membergate's application wrapped in
pyinstrument), drives it with wrk and writes
bench/results/profile-SCENARIO-DATABASE.txt.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.load import run_wrk
from bench.run import DEFAULT_POSTGRES, RESULTS
from bench.seed import create_api_key, create_memberships, seed_members
from bench.service import Database, Server

REPO = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("scenario", help="a wrk scenario: insert, create, ...")
    parser.add_argument("--database", default="sqlite")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("MEMBERGATE_BENCH_POSTGRES_URL", DEFAULT_POSTGRES),
    )
    args = parser.parse_args(argv)
    args.output.mkdir(parents=True, exist_ok=True)
    out = (args.output / f"profile-{args.scenario}-{args.database}").resolve()
    out.with_suffix(".txt").unlink(missing_ok=True)

    with tempfile.TemporaryDirectory(prefix="membergate-profile-") as work:
        data_dir = Path(work) / "data"
        database = Database(args.database, data_dir, args.postgres_url)
        server = Server(database, data_dir)
        granian: subprocess.Popen[bytes] | None = None
        try:
            data_dir.mkdir(parents=True)
            server.membergate("manage", "migrate", "--verbosity", "0")
            memberships = create_memberships(server, ["Gold", "Silver", "Platinum"])
            api_key = create_api_key(server, "bench")
            seed_members(server, 1, 10_000, memberships[:2])
            env = {
                **server.env,
                "PYTHONPATH": str(REPO),
                "BENCH_PROFILE_SKIP": "500",
                "BENCH_PROFILE_REQUESTS": str(args.requests),
                "BENCH_PROFILE_OUT": str(out),
            }
            granian = subprocess.Popen(
                [
                    sys.executable, "-m", "granian",
                    "--interface", "asginl",
                    "--host", "127.0.0.1",
                    "--port", str(server.port),
                    "--workers", "1",
                    "--no-ws",
                    "--log-level", "warning",
                    "bench.profiled:application",
                ],
                env=env,
                cwd=REPO,
            )  # fmt: skip
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    httpx.get(f"{server.base_url}/health", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.2)
            wrk_env = {
                "BENCH_API_KEY": api_key,
                "BENCH_MEMBERSHIPS": ",".join(map(str, memberships[:2])),
                "BENCH_EXTRA_MEMBERSHIP": str(memberships[2]),
                "BENCH_SEEDED": "10000",
            }
            while not out.with_suffix(".txt").exists():
                result = run_wrk(
                    server.base_url,
                    args.scenario,
                    seconds=3,
                    connections=4,
                    threads=1,
                    env={**wrk_env, "BENCH_PREFIX": f"p{time.monotonic_ns()}"},
                )
                print(f"{result.rate:.0f}/s, errors {result.errors}", flush=True)
        finally:
            if granian is not None:
                granian.terminate()
                granian.wait(30)
            database.drop()
            shutil.rmtree(data_dir, ignore_errors=True)
    print(f"wrote {out.with_suffix('.txt')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
