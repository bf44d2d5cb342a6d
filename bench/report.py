"""The results table and the targets, as Markdown."""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.scenarios import Outcome

MB = 2**20


def _find(outcomes: Sequence[Outcome], number: int, database: str) -> Outcome | None:
    for outcome in outcomes:
        if outcome.scenario.number == number and outcome.database == database:
            return outcome
    return None


def targets(
    outcomes: Sequence[Outcome], seeding: Mapping[str, Any]
) -> list[dict[str, object]]:
    """Each target with what was measured and whether it was met."""
    checks: list[dict[str, object]] = []

    def check(name: str, measured: str, met: bool | None) -> None:
        checks.append({"target": name, "measured": measured, "met": met})

    def rate(number: int, database: str) -> float | None:
        found = _find(outcomes, number, database)
        return found.result.rate if found and found.result else None

    s2, s3 = rate(2, "sqlite"), rate(3, "sqlite")
    s3_sqlite = _find(outcomes, 3, "sqlite")
    if s3 is not None and s3_sqlite and s3_sqlite.result:
        p99 = s3_sqlite.result.p99_ms
        check("SQLite, scenario 3 >= 1,000/s", f"{s3:.0f}/s", s3 >= 1000)
        check("SQLite, scenario 3 p99 < 25 ms", f"{p99:.1f} ms", p99 < 25)
        if s2:
            check(
                "SQLite, scenario 3 >= half of scenario 2",
                f"{s3:.0f} vs {s2:.0f}/s ({s3 / s2:.0%})",
                s3 >= s2 / 2,
            )
    else:
        check("SQLite, scenario 3 >= 1,000/s, p99 < 25 ms", "not measured", None)
    p3 = rate(3, "postgres")
    check(
        "PostgreSQL, scenario 3 >= 700/s",
        f"{p3:.0f}/s" if p3 is not None else "not measured",
        p3 >= 700 if p3 is not None else None,
    )
    for database in ("sqlite", "postgres"):
        r3, r7 = rate(3, database), rate(7, database)
        if r3 and r7 is not None:
            check(
                f"{database}: scenario 7 at least 85% of scenario 3",
                f"{r7:.0f} vs {r3:.0f}/s ({r7 / r3 - 1:+.0%})",
                r7 >= 0.85 * r3,
            )
        else:
            check(f"{database}: scenario 7 within 15% of 3", "not measured", None)
    for number in (5, 6):
        r = rate(number, "sqlite")
        check(
            f"SQLite, scenario {number} >= 1,500/s",
            f"{r:.0f}/s" if r is not None else "not measured",
            r >= 1500 if r is not None else None,
        )
    measured = [o for o in outcomes if o.result]
    peak = max((o.peak_rss for o in measured), default=0)
    check("peak server memory < 250 MB", f"{peak / MB:.0f} MB", peak < 250 * MB)
    errors = sum(o.result.errors for o in measured if o.result)
    check("0 errors (non-2xx and socket)", str(errors), errors == 0)
    mails = [
        seeded["mail"]
        for seeded in seeding.values()
        if isinstance(seeded, Mapping) and "mail" in seeded
    ]
    check(
        "worker >= 100 emails/s",
        ", ".join(
            f"{m['database']}: {m['rate']:.0f}/s, {m['delivered']} of {m['queued']}"
            " delivered"
            for m in mails
        )
        or "not measured",
        all(m["rate"] >= 100 and m["delivered"] == m["queued"] for m in mails)
        if mails
        else None,
    )
    return checks


def _flood_lines(outcomes: Sequence[Mapping[str, Any]]) -> list[str]:
    """Scenario 8 against scenario 6: what a flood of wrong keys costs others."""
    found = {(o["scenario"], o["database"]): o for o in outcomes if "rate" in o}
    lines = []
    for database in ("sqlite", "postgres"):
        alone, flooded = found.get((6, database)), found.get((8, database))
        if alone and flooded:
            lines.append(
                f"- {database}: during the flood the good requests ran at"
                f" {flooded['rate']:,.0f}/s, {flooded['rate'] / alone['rate']:.0%}"
                f" of their {alone['rate']:,.0f}/s alone; p99"
                f" {flooded['p99_ms']:.0f} ms against {alone['p99_ms']:.0f} ms."
            )
    return lines


def _verdict(met: object) -> str:
    if met is None:
        return "not measured"
    return "met" if met else "**not met**"


def write_results(run: Mapping[str, Any], path: Path) -> None:
    plan = run["plan"]
    lines = [
        "# Benchmark results" + (" (smoke run)" if run["smoke"] else ""),
        "",
        f"Taken {run['when']} on {run['machine']}; load average before"
        f" {run['load_before']}, after {run['load_after']}. The load"
        " generator (wrk) runs on the same cores as the server. The disk took"
        " {} and {} durable SQLite commits a second before and after the run:"
        " with synchronous=FULL every write on SQLite waits for one.".format(
            *run["disk_commits_per_s"]
        ),
        "",
        "Figures from a machine shared with other work are noisy; the figures"
        " to quote come from a run on a quiet machine (load average near zero"
        " before the run).",
        "",
        f"Layout: `membergate serve --workers {plan['workers']} --threads"
        f" {plan['threads']} --no-worker` (emails are queued in the request and"
        " nothing sends them during the HTTP scenarios); wrk"
        f" {plan['wrk_threads']} threads, {plan['connections']} connections,"
        f" {plan['seconds']:g} s per scenario after a {plan['warmup']:g} s"
        f" warm-up. Scenarios 5, 6 and 8 pick among {plan['small_seed']:,}"
        f" seeded members; scenario 8 is scenario 6 while a second wrk sends"
        f" wrong keys from the same address on as many connections, and its"
        f" figures are the good requests'; scenario 7 runs after seeding"
        f" {plan['large_seed']:,} members with {3 * plan['large_seed']:,} grants.",
        "",
        "| # | scenario | database | req/s | p50 ms | p99 ms | max ms"
        " | non-2xx | socket errors | peak RSS MB |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for o in run["outcomes"]:
        if "rate" not in o:
            lines.append(
                f"| {o['scenario']} | {o['title']} | {o['database']}"
                f" | {o['note']} | | | | | | |"
            )
            continue
        lines.append(
            f"| {o['scenario']} | {o['title']} | {o['database']} | {o['rate']:,.0f}"
            f" | {o['p50_ms']:.1f} | {o['p99_ms']:.1f} | {o['max_ms']:.0f}"
            f" | {o['non2xx']} | {o['socket_errors']} | {o['peak_rss_mb']:.0f} |"
        )
    notes = [o for o in run["outcomes"] if "rate" in o and o["note"]]
    if notes:
        lines += [""]
        lines += [f"- {o['database']}, {o['scenario']}: {o['note']}" for o in notes]
    lines += _flood_lines(run["outcomes"])
    lines += ["", "Seeding and the worker:", ""]
    for database, seeded in run["seeding"].items():
        for part, figures in seeded.items():
            shown = ", ".join(f"{k} {v}" for k, v in figures.items() if v != "")
            lines.append(f"- {database}, {part}: {shown}")
    if run["targets"]:
        lines += ["", "## Targets", "", "| target | measured | |", "|---|---|---|"]
        for t in run["targets"]:
            lines.append(f"| {t['target']} | {t['measured']} | {_verdict(t['met'])} |")
        if any(t["met"] is False for t in run["targets"]):
            lines += [
                "",
                "Where the time of a request goes, why the targets marked not"
                " met are not, and what would lift them: `profile.md` beside"
                " this file; the cost of the body-first front: `http-front.md`.",
            ]
    path.write_text("\n".join(lines) + "\n")
