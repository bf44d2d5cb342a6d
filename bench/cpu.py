"""CPU spent per API call, in-process, without HTTP or a load generator.

    .venv/bin/python -m bench.cpu [--requests 500] [--profile create]

Migrates a scratch SQLite database (or the one DATABASE_URL names), seeds
memberships, a key and members, then calls Membergate's WSGI application in
a loop for each kind of call and prints the CPU time (`time.process_time`)
and the statements sent per call. CPU time is what a busy server runs out
of first, and it is far less disturbed by other work on the machine than
wall time. `--profile NAME` shows where that call's CPU time goes (cProfile).
"""

import argparse
import cProfile
import io
import itertools
import json
import logging
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

Call = Callable[[int], dict[str, Any]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cpu")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--profile", help="profile one kind of call (cProfile)")
    parser.add_argument("--sort", default="cumulative", help="cProfile's order")
    parser.add_argument("--lines", type=int, default=60)
    args = parser.parse_args(argv)

    work = tempfile.mkdtemp(prefix="membergate-cpu-")
    os.environ.setdefault("MEMBERGATE_DATA_DIR", work)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "membergate.settings")
    import django

    django.setup()
    from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
    from django.core.management import call_command
    from django.db import connection

    from membergate.apikeys.models import ApiKey
    from membergate.members.models import Member, Membership
    from membergate.wsgi import application

    logging.disable(logging.INFO)
    call_command("migrate", verbosity=0)
    gold = Membership.objects.create(title="Gold")
    silver = Membership.objects.create(title="Silver")
    _, secret = ApiKey.create(f"cpu-{time.time_ns()}")
    run = time.time_ns()
    Member.objects.bulk_create(
        Member(email=f"seed-{run}-{n}@cpu.example", password=UNUSABLE_PASSWORD_PREFIX)
        # The warm-up, the counted call and the measured ones each take one.
        for n in range(args.requests + 21)
    )
    ids = f"{gold.pk},{silver.pk}"
    counter = itertools.count()

    def environ(
        method: str, path: str, query: dict[str, str], body: bytes
    ) -> dict[str, Any]:
        return {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": urlencode(query),
            "CONTENT_TYPE": "application/json" if body else "",
            "CONTENT_LENGTH": str(len(body)) if body else "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1:8000",
            "HTTP_X_API_KEY": secret,
            "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
        }

    def create(n: int) -> dict[str, Any]:
        body = {"email": f"new-{run}-{next(counter)}@cpu.example", "memberships": ids}
        return environ("POST", "/api/v1/members", {}, json.dumps(body).encode())

    def notify(n: int) -> dict[str, Any]:
        body = {
            "email": f"welcome-{run}-{next(counter)}@cpu.example",
            "memberships": ids,
            "notify": "1",
        }
        return environ("POST", "/api/v1/members", {}, json.dumps(body).encode())

    def add(n: int) -> dict[str, Any]:
        body = {"email": f"seed-{run}-{n}@cpu.example", "membership_id": gold.pk}
        return environ(
            "POST", "/api/v1/members/add-membership", {}, json.dumps(body).encode()
        )

    def get(n: int) -> dict[str, Any]:
        query = {"email": f"seed-{run}-{n}@cpu.example"}
        return environ("GET", "/api/v1/members", query, b"")

    def health(n: int) -> dict[str, Any]:
        request = environ("GET", "/health", {}, b"")
        del request["HTTP_X_API_KEY"]
        return request

    calls: dict[str, Call] = {
        "health": health,
        "create": create,
        "notify": notify,
        "add": add,
        "get": get,
    }

    def call(make: Call, n: int) -> None:
        statuses: list[str] = []

        def start_response(status: str, headers: Any, *rest: Any) -> Any:
            statuses.append(status)
            return None

        result = application(make(n), start_response)
        b"".join(result)
        result.close()
        if not statuses[0].startswith("2"):
            raise SystemExit(f"{make.__name__} answered {statuses[0]}")

    print(f"{'call':<8} {'CPU ms':>7} {'statements':>10}")
    for name, make in calls.items():
        for n in range(20):  # warm-up
            call(make, n)
        statements: list[str] = []
        with connection.execute_wrapper(_counter(statements)):
            call(make, 20)
        offset = 21
        if args.profile == name:
            # CPU time, not wall time: waits for the disk are not the point.
            profiler = cProfile.Profile(time.process_time)
            profiler.enable()
        started = time.process_time()
        for n in range(offset, offset + args.requests):
            call(make, n)
        spent = (time.process_time() - started) / args.requests
        if args.profile == name:
            profiler.disable()
            stats = pstats.Stats(profiler).sort_stats(args.sort)
            stats.print_stats(args.lines)
        print(f"{name:<8} {spent * 1000:>7.2f} {len(statements):>10}")
    return 0


def _counter(statements: list[str]) -> Callable[..., Any]:
    def count(execute: Any, sql: str, *rest: Any) -> Any:
        statements.append(sql)
        return execute(sql, *rest)

    return count


if __name__ == "__main__":
    raise SystemExit(main())
