"""The scenarios, run against one `membergate serve` per database."""

import json
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.load import LoadResult, run_wrk
from bench.mailrate import measure_worker, queue_welcome_emails
from bench.seed import count_rows, create_api_key, create_memberships, seed_members
from bench.service import Database, MemoryPeak, Server


@dataclass(frozen=True)
class Scenario:
    number: int
    name: str
    wrk_scenario: str
    title: str
    needs_api: bool = True
    flood: bool = False
    """Run while another wrk floods the API with wrong keys."""


SCENARIOS = [
    Scenario(1, "health", "health", "GET /health", needs_api=False),
    Scenario(2, "insert", "insert", "POST /bench/insert (one row)", needs_api=False),
    Scenario(3, "create", "create", "POST /members, 2 memberships, notify off"),
    Scenario(4, "create_notify", "create_notify", "POST /members, notify on"),
    Scenario(5, "add_membership", "add_membership", "POST /members/add-membership"),
    Scenario(6, "get_member", "get_member", "GET /members?email="),
    Scenario(
        8,
        "get_member_flood",
        "get_member",
        "scenario 6 during a wrong-key flood",
        flood=True,
    ),
    Scenario(7, "create_large", "create", "scenario 3 on 1M members, 3M grants"),
]


@dataclass
class Plan:
    seconds: float
    warmup: float
    connections: int
    wrk_threads: int
    workers: int
    threads: int
    small_seed: int
    large_seed: int
    emails: int
    scenarios: tuple[int, ...] = tuple(range(1, 9))


@dataclass
class Outcome:
    scenario: Scenario
    database: str
    result: LoadResult | None
    peak_rss: int
    note: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "scenario": self.scenario.number,
            "name": self.scenario.name,
            "title": self.scenario.title,
            "database": self.database,
            "peak_rss_mb": round(self.peak_rss / 2**20, 1),
            "note": self.note,
            **(self.result.as_dict() if self.result else {}),
        }


def api_available(server: Server, api_key: str) -> bool:
    answer = httpx.get(
        f"{server.base_url}/api/v1/memberships",
        headers={"X-API-Key": api_key},
        timeout=10,
    )
    return answer.status_code == 200


def run_database(
    kind: str, plan: Plan, work_dir: Path, postgres_url: str, log: "Log"
) -> tuple[list[Outcome], dict[str, object]]:
    """Every scenario on one database; return the outcomes and the seeding."""
    data_dir = work_dir / kind
    database = Database(kind, data_dir, postgres_url)
    server = Server(database, data_dir)
    outcomes: list[Outcome] = []
    seeding: dict[str, object] = {}
    try:
        server.start(plan.workers, plan.threads)
        membership_ids = create_memberships(
            server, ["Gold", "Silver", "Bronze", "Platinum"]
        )
        api_key = create_api_key(server, "bench")
        has_api = api_available(server, api_key)
        log(f"{kind}: serve pid {server.pid}, API {'up' if has_api else 'absent'}")
        seconds = seed_members(server, 1, plan.small_seed, membership_ids[:3])
        seeding["small"] = {"members": plan.small_seed, "seconds": round(seconds, 1)}
        log(f"{kind}: seeded {plan.small_seed} members in {seconds:.1f} s")
        env = {
            "BENCH_API_KEY": api_key,
            "BENCH_MEMBERSHIPS": ",".join(map(str, membership_ids[:2])),
            "BENCH_EXTRA_MEMBERSHIP": str(membership_ids[3]),
            "BENCH_SEEDED": str(plan.small_seed),
        }
        for scenario in SCENARIOS:
            if scenario.number not in plan.scenarios:
                continue
            if scenario.number == 7:
                seconds = seed_members(
                    server, plan.small_seed + 1, plan.large_seed, membership_ids[:3]
                )
                seeding["large"] = {
                    "members": count_rows(server, "members_member"),
                    "grants": count_rows(server, "members_grant"),
                    "seconds": round(seconds, 1),
                }
                log(f"{kind}: seeded {seeding['large']} ")
            if scenario.needs_api and not has_api:
                outcomes.append(
                    Outcome(scenario, kind, None, 0, "the incoming API is not there")
                )
                continue
            outcome = measure(server, scenario, kind, plan, env)
            log(describe(outcome))
            outcomes.append(outcome)
        if plan.emails and has_api:
            seeding["mail"] = run_mail(server, plan, membership_ids, api_key, log)
    finally:
        server.stop()
        database.drop()
        shutil.rmtree(data_dir, ignore_errors=True)
    return outcomes, seeding


def measure(
    server: Server, scenario: Scenario, kind: str, plan: Plan, env: dict[str, str]
) -> Outcome:
    common = {
        "connections": plan.connections,
        "threads": plan.wrk_threads,
    }
    flood = Flood(server, plan, env) if scenario.flood else None
    if plan.warmup:
        run_wrk(
            server.base_url,
            scenario.wrk_scenario,
            seconds=plan.warmup,
            env={**env, "BENCH_PREFIX": f"warm{scenario.number}"},
            **common,
        )
    with MemoryPeak(server.pid) as memory:
        result = run_wrk(
            server.base_url,
            scenario.wrk_scenario,
            seconds=plan.seconds,
            env={**env, "BENCH_PREFIX": f"s{scenario.number}"},
            **common,
        )
    note = flood.finish() if flood else ""
    return Outcome(scenario, kind, result, memory.peak, note)


class Flood:
    """Wrong keys from the benchmark's address, as fast as wrk sends them.

    It starts before the measured sender's warm-up and ends after its run,
    with as many connections, so the whole measurement happens under it.
    """

    def __init__(self, server: Server, plan: Plan, env: dict[str, str]) -> None:
        self.result: LoadResult | None = None
        self.connections = plan.connections
        self.thread = threading.Thread(
            target=self._run,
            args=(server.base_url, plan.warmup + plan.seconds + 2, plan, env),
            daemon=True,
        )
        self.thread.start()
        time.sleep(1)

    def _run(
        self, base_url: str, seconds: float, plan: Plan, env: dict[str, str]
    ) -> None:
        self.result = run_wrk(
            base_url,
            "flood",
            seconds=seconds,
            connections=plan.connections,
            threads=plan.wrk_threads,
            env=env,
        )

    def finish(self) -> str:
        """Wait for the flood to end; what it sent and got, in words."""
        self.thread.join()
        r = self.result
        if r is None:
            return "the flood did not run"
        answers = ", ".join(
            f"{count} x {status}" for status, count in r.statuses.items()
        )
        return (
            f"flood of wrong keys, {r.rate:.0f} requests/s on {self.connections}"
            f" connections: {answers}"
        )


def run_mail(
    server: Server, plan: Plan, membership_ids: list[int], api_key: str, log: "Log"
) -> dict[str, object]:
    """Queue welcome emails through the API, then time a worker sending them."""
    queued = queue_welcome_emails(server, api_key, membership_ids[:1], plan.emails)
    server.stop()
    log(f"{server.database.kind}: queued {queued} welcome emails; starting worker")
    started = time.monotonic()
    result = measure_worker(server, queued, server.data_dir)
    log(
        f"{server.database.kind}: worker delivered {result.delivered}/{queued}"
        f" in {result.seconds} s ({result.rate}/s) {result.note}"
        f" [{time.monotonic() - started:.0f} s]"
    )
    return {"database": server.database.kind, **result.as_dict()}


def describe(outcome: Outcome) -> str:
    r = outcome.result
    if r is None:
        return f"{outcome.database} {outcome.scenario.number}: {outcome.note}"
    text = (
        f"{outcome.database} {outcome.scenario.number} {outcome.scenario.name}:"
        f" {r.rate:.0f}/s p50 {r.p50_ms:.1f} ms p99 {r.p99_ms:.1f} ms"
        f" errors {r.non2xx}+{r.socket_errors}"
        f" rss {outcome.peak_rss / 2**20:.0f} MB"
    )
    if r.statuses:
        text += f" statuses {json.dumps(r.statuses)} e.g. {r.sample[:200]}"
    return text


class Log:
    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self, message: str) -> None:
        print(f"[{time.monotonic() - self.started:6.1f}s] {message}", flush=True)
