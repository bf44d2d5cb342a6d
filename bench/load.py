"""Drive the server with wrk and read back what bench/load.lua measured."""

import json
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

LUA = Path(__file__).with_name("load.lua")
RESULT_MARK = "BENCH_RESULT "


@dataclass
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    non2xx: int
    socket_errors: int
    statuses: dict[str, int] = field(default_factory=dict)
    sample: str = ""

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.non2xx + self.socket_errors

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "rate": round(self.rate, 1), "errors": self.errors}


def ensure_wrk() -> str:
    """Path of wrk, installed from Debian's archive when missing."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit("bench: wrk is needed: sudo apt-get install -y wrk")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("bench: apt-get did not install wrk")
    return found


def run_wrk(
    base_url: str,
    scenario: str,
    *,
    seconds: float,
    connections: int,
    threads: int,
    env: dict[str, str],
) -> LoadResult:
    threads = min(threads, connections)
    command = [
        ensure_wrk(),
        "--threads", str(threads),
        "--connections", str(connections),
        "--duration", f"{max(1, round(seconds))}s",
        "--timeout", "10s",
        "--script", str(LUA),
        base_url,
    ]  # fmt: skip
    completed = subprocess.run(
        command,
        env={
            **os.environ,
            **env,
            "BENCH_SCENARIO": scenario,
            "BENCH_THREADS": str(threads),
        },
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=False,
    )
    lines = [
        line.removeprefix(RESULT_MARK)
        for line in completed.stdout.splitlines()
        if line.startswith(RESULT_MARK)
    ]
    if completed.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed: {completed.stdout}\n{completed.stderr}")
    data = json.loads(lines[-1])
    latency = data["latency_us"]
    return LoadResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=latency["p50"] / 1000,
        p90_ms=latency["p90"] / 1000,
        p99_ms=latency["p99"] / 1000,
        max_ms=latency["max"] / 1000,
        non2xx=data["non2xx"],
        socket_errors=sum(data["socket_errors"].values()),
        statuses=data["statuses"],
        sample=data["sample"],
    )
