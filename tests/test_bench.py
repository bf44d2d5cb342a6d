"""The benchmark's smoke mode: every scenario, a few seconds each."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent


def test_the_smoke_run_measures_every_scenario_without_errors(tmp_path):
    server_url = os.environ.get("DATABASE_URL", "")
    database = "postgres" if server_url else "sqlite"
    command = [
        sys.executable, "-m", "bench.run", "--smoke",
        "--databases", database,
        "--output", str(tmp_path),
    ]  # fmt: skip
    if server_url:
        command += ["--postgres-url", server_url]
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}

    completed = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
    run = json.loads((tmp_path / "latest.json").read_text())
    measured = {o["scenario"]: o for o in run["outcomes"] if "rate" in o}
    assert sorted(measured) == [1, 2, 3, 4, 5, 6, 7, 8], completed.stdout
    for outcome in measured.values():
        assert outcome["database"] == database
        assert outcome["requests"] > 0, outcome
        assert outcome["errors"] == 0, outcome
        assert 0 < outcome["p50_ms"] <= outcome["p99_ms"]
        assert outcome["peak_rss_mb"] > 10
    assert run["seeding"][database]["large"]["members"] >= 5_000
    assert run["seeding"][database]["large"]["grants"] >= 15_000
    flood = measured[8]["note"]
    assert "x 401" in flood, flood
    assert "x 429" in flood, flood
    table = (tmp_path / "latest.md").read_text()
    assert f"| 3 | POST /members, 2 memberships, notify off | {database} |" in table


def test_the_cpu_meter_measures_every_kind_of_call(tmp_path):
    env = {**os.environ, "MEMBERGATE_DATA_DIR": str(tmp_path)}
    # It migrates and fills the database it is given: never the suite's.
    env.pop("DATABASE_URL", None)

    completed = subprocess.run(
        [sys.executable, "-m", "bench.cpu", "--requests", "5"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip

    assert completed.returncode == 0, completed.stdout + completed.stderr
    rows = [line.split() for line in completed.stdout.splitlines()[1:]]
    assert [row[0] for row in rows] == ["health", "create", "notify", "add", "get"]
    for _, cpu_ms, statements in rows:
        assert float(cpu_ms) > 0
        assert int(statements) >= 1
