"""How fast the admin answers with a million members.

    .venv/bin/python bench/admin_speed.py [--members 1000000]
        [--databases sqlite,postgres]
        [--postgres-url postgres://postgres@127.0.0.1:5432/mg_admin_bench]

Seeds a fresh database (a scratch SQLite file; on PostgreSQL the database
named in the URL is dropped and created again) with MEMBERS members and three
grants each, one of them revoked, then times the admin's pages through
Django's test client and writes the figures to bench/results/admin.md.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "admin.md"
FIRST_NAMES = ["Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "Ken"]
MEMBERSHIPS = 10
RUNS = 5


def seed(members: int) -> list[int]:
    """Fill the members and grants tables in bulk SQL; return membership ids."""
    from django.db import connection, transaction

    from membergate.members.models import Membership

    with transaction.atomic():
        ids = [
            Membership.objects.create(title=f"Tier {i + 1}").pk
            for i in range(MEMBERSHIPS)
        ]
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                _seed_postgres(cursor, members, ids)
            else:
                _seed_sqlite(cursor, members, ids)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return ids


def _seed_postgres(cursor: Any, members: int, ids: list[int]) -> None:
    names = "ARRAY[" + ",".join(f"'{n}'" for n in FIRST_NAMES) + "]"
    cursor.execute(
        "INSERT INTO members_member (password, is_superuser, email, first_name,"
        " last_name, is_active, is_staff, date_joined)"
        " SELECT '!', false, 'member' || n || '@example.com',"
        f" ({names})[1 + n %% {len(FIRST_NAMES)}], 'Tester' || (n %% 5000),"
        " true, false, now() - make_interval(secs => n)"
        " FROM generate_series(1, %s) AS n",
        [members],
    )
    tiers = "ARRAY[" + ",".join(map(str, ids)) + "]::bigint[]"
    cursor.execute(
        "INSERT INTO members_grant (member_id, membership_id, granted_at,"
        " expires_at, revoked_at)"
        f" SELECT m.id, ({tiers})[1 + (m.id + k) % {len(ids)}], m.date_joined,"
        " NULL, CASE WHEN k = 2 THEN m.date_joined + interval '1 day' END"
        " FROM members_member m CROSS JOIN generate_series(0, 2) AS k"
        " WHERE NOT m.is_staff ORDER BY m.id"
    )


def _seed_sqlite(cursor: Any, members: int, ids: list[int]) -> None:
    cursor.execute("PRAGMA cache_size=-512000")
    first = " ".join(f"WHEN {i} THEN '{n}'" for i, n in enumerate(FIRST_NAMES))
    cursor.execute(
        "INSERT INTO members_member (password, is_superuser, email, first_name,"
        " last_name, is_active, is_staff, date_joined)"
        " WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq"
        " WHERE n < %s)"
        " SELECT '!', 0, 'member' || n || '@example.com',"
        f" CASE n %% {len(FIRST_NAMES)} {first} END, 'Tester' || (n %% 5000),"
        " 1, 0, datetime('now', '-' || n || ' seconds') FROM seq",
        [members],
    )
    tier = " ".join(f"WHEN {i} THEN {pk}" for i, pk in enumerate(ids))
    cursor.execute(
        "INSERT INTO members_grant (member_id, membership_id, granted_at,"
        " expires_at, revoked_at)"
        f" SELECT m.id, CASE (m.id + k.k) % {len(ids)} {tier} END, m.date_joined,"
        " NULL, CASE WHEN k.k = 2 THEN datetime(m.date_joined, '+1 day') END"
        " FROM members_member m"
        " CROSS JOIN (SELECT 0 AS k UNION ALL SELECT 1 UNION ALL SELECT 2) AS k"
        " WHERE m.is_staff = 0 ORDER BY m.id"
    )


def pages(members: int, membership: int) -> list[tuple[str, str]]:
    """The pages to time, as (what, URL)."""
    from django.urls import reverse

    from membergate.members.models import Member

    middle = Member.objects.get(email=f"member{members // 2}@example.com")
    members_url = reverse("admin:members_member_changelist")
    deep = min(100, members // 100)
    return [
        ("member list", members_url),
        (f"member list, page {deep}", f"{members_url}?p={deep}"),
        ("search by email", f"{members_url}?q=member{members // 2}@"),
        ("search by email prefix", f"{members_url}?q=member{members // 3}"),
        ("search by name", f"{members_url}?q=Grace+Tester42"),
        ("members holding a membership", f"{members_url}?holds={membership}"),
        (
            "a member's page",
            reverse("admin:members_member_change", args=[middle.pk]),
        ),
        ("membership list", reverse("admin:members_membership_changelist")),
        ("landing page", reverse("admin:index")),
    ]


def measure(members: int, membership: int, runs: int = RUNS) -> dict[str, list[float]]:
    """Time each page ``runs`` times as a signed-in admin; seconds per run."""
    from django.test import Client

    from membergate.members.models import Member

    admin = Member.objects.filter(is_superuser=True).first()
    if admin is None:
        admin = Member.objects.create_superuser("bench-admin@example.com", None)
    client = Client()
    client.force_login(admin)
    timings: dict[str, list[float]] = {}
    for label, url in pages(members, membership):
        answer = client.get(url)  # warms caches and checks the page works
        if answer.status_code != 200:
            raise RuntimeError(f"{label}: {url} answered {answer.status_code}")
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            client.get(url)
            times.append(time.perf_counter() - started)
        timings[label] = times
    return timings


def _worker(members: int) -> None:
    """Run in a process of its own, configured for one database."""
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    ids = seed(members)
    seeded = time.perf_counter() - started
    timings = measure(members, ids[0])
    print(json.dumps({"seed_seconds": seeded, "timings": timings}))


def _run(database: str, members: int, postgres_url: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as data_dir:
        env = {**os.environ, "MEMBERGATE_DATA_DIR": data_dir}
        env["DJANGO_SETTINGS_MODULE"] = "membergate.settings"
        env.pop("DATABASE_URL", None)
        if database == "postgres":
            env["DATABASE_URL"] = _fresh_postgres(postgres_url)
        result = subprocess.run(
            [sys.executable, __file__, "--worker", "--members", str(members)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise SystemExit(f"{database} run failed:\n{result.stderr}")
        figures: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
        return figures


def _fresh_postgres(url: str) -> str:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    server = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    return url


def _report(members: int, results: dict[str, dict[str, Any]]) -> str:
    databases = list(results)
    lines = [
        "# Admin speed",
        "",
        f"{members:,} members, {3 * members:,} grants (one in three revoked), "
        f"{MEMBERSHIPS} memberships. Median and slowest of {RUNS} requests through "
        "Django's test client, signed in as an admin, after one warm-up request.",
        "Written by `bench/admin_speed.py`.",
        "",
        "| page | " + " | ".join(databases) + " |",
        "| --- | " + " | ".join("---:" for _ in databases) + " |",
    ]
    first = results[databases[0]]["timings"]
    for label in first:
        cells = []
        for db in databases:
            times = results[db]["timings"][label]
            cells.append(
                f"{statistics.median(times) * 1000:.0f} ms "
                f"(max {max(times) * 1000:.0f})"
            )
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    seeded = ", ".join(f"{db} {results[db]['seed_seconds']:.0f} s" for db in databases)
    lines += ["", f"Seeding took: {seeded}.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "MEMBERGATE_BENCH_POSTGRES_URL",
            "postgres://postgres@127.0.0.1:5432/mg_admin_bench",
        ),
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.members < 10:
        parser.error("--members must be at least 10")
    if args.worker:
        _worker(args.members)
        return

    sys.path.insert(0, str(ROOT / "src"))
    results = {}
    for database in args.databases.split(","):
        print(f"seeding and timing {database}...", file=sys.stderr)
        results[database] = _run(database, args.members, args.postgres_url)
    report = _report(args.members, results)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
