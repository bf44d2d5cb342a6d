import ctypes
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from argparse import ArgumentParser
from pathlib import Path
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from membergate import conf
from membergate.core.bootstrap import FirstRun, bootstrap
from membergate.core.datadir import hold_shared_lock

logger = logging.getLogger(__name__)

# Children get SIGTERM if `serve` itself dies, even by SIGKILL, so no server
# or worker outlives it.
_PR_SET_PDEATHSIG = 1
_STOP_TIMEOUT = 10.0
# Any fixed number; it only has to be the same in every `serve`.
_MIGRATION_LOCK = 7_413_262
# Requests one server process takes in at once. Their bodies are read on
# its event loop while at most --threads of them run in Django, so this is
# how many slow senders it waits for before it stops reading new requests;
# each holds at most 128 KiB of body meanwhile (32 MiB in all).
_REQUESTS_IN_FLIGHT = 256


def _die_with_parent() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class Command(BaseCommand):
    help = "Apply migrations, then run the HTTP server and a background worker."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--host", default=conf.env_str("MEMBERGATE_HOST", "127.0.0.1")
        )
        parser.add_argument(
            "--port",
            type=int,
            default=conf.env_int("MEMBERGATE_PORT", 8000, minimum=1, maximum=65535),
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=conf.env_int("MEMBERGATE_WORKERS", 1, minimum=1, maximum=64),
            help="HTTP server processes (default 1)",
        )
        parser.add_argument(
            "--threads",
            type=int,
            default=conf.env_int("MEMBERGATE_THREADS", 2, minimum=1, maximum=64),
            help="request threads in each process (default 2)",
        )
        parser.add_argument(
            "--no-worker",
            action="store_true",
            help="do not run a background worker beside the server",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = options["host"], options["port"]
        if not 1 <= port <= 65535:
            raise CommandError("--port must be from 1 to 65535")
        for option in ("workers", "threads"):
            if not 1 <= options[option] <= 64:
                raise CommandError(f"--{option} must be from 1 to 64")
        if connection.vendor == "sqlite":
            hold_shared_lock()
        self.migrate()
        first_run = bootstrap(conf.env_str("MEMBERGATE_ADMIN_EMAIL", "admin@localhost"))

        env = dict(os.environ)
        if not conf.env_base_url("MEMBERGATE_BASE_URL"):
            wildcard = host in ("0.0.0.0", "::", "")  # noqa: S104
            shown_host = "localhost" if wildcard else host
            if ":" in shown_host:
                shown_host = f"[{shown_host}]"
            env["MEMBERGATE_BASE_URL"] = f"http://{shown_host}:{port}"
            if wildcard:
                logger.warning(
                    "MEMBERGATE_BASE_URL is not set: emails will link to %s, "
                    "which only this machine reaches. Set it to the address "
                    "members and senders use.",
                    env["MEMBERGATE_BASE_URL"],
                )
        base_url = env["MEMBERGATE_BASE_URL"].rstrip("/")
        env["PROMETHEUS_MULTIPROC_DIR"] = str(self.fresh_metrics_dir(port))
        self.announce(base_url, first_run)

        children = [self.start_server(host, port, options, env)]
        if not options["no_worker"]:
            children.append(self.start_worker(env))
        sys.exit(self.supervise(children))

    def migrate(self) -> None:
        """Apply migrations; with several servers on PostgreSQL, one at a time."""
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_lock(%s)", [_MIGRATION_LOCK])
            try:
                call_command("migrate", interactive=False, verbosity=0)
                call_command("createcachetable", verbosity=0)
            finally:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [_MIGRATION_LOCK])
        else:
            call_command("migrate", interactive=False, verbosity=0)
            call_command("createcachetable", verbosity=0)
        connection.close()

    def fresh_metrics_dir(self, port: int) -> Path:
        """An empty directory where this server's processes keep their counts.

        One per port, so two servers sharing a data dir keep apart; emptied
        at start, as the counts of a previous run must not be added in.
        """
        directory = settings.DATA_DIR / "metrics" / str(port)
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        return directory

    def announce(self, base_url: str, first_run: FirstRun | None) -> None:
        write = self.stdout.write
        write(f"Membergate is starting at {base_url}/")
        write(f"  admin:        {base_url}/admin/")
        write(f"  API base URL: {base_url}/api/v1")
        write(f"  alias:        {base_url}/wp-json/opm-api/v1")
        if first_run is not None:
            write("")
            write(
                "First run: sign in to the admin with these. They are shown only now."
            )
            write(f"  admin email:    {first_run.admin_email}")
            write(f"  admin password: {first_run.admin_password}")
            if first_run.api_key:
                write(f"  API key:        {first_run.api_key}")
        self.stdout.flush()

    def start_server(
        self, host: str, port: int, options: dict[str, Any], env: dict[str, str]
    ) -> subprocess.Popen[bytes]:
        # Django runs in membergate.asgi's pool of request threads, which
        # only ever get a request whose body has fully arrived.
        env = {**env, "MEMBERGATE_THREADS": str(options["threads"])}
        command = [
            sys.executable, "-m", "granian",
            "--interface", "asginl",
            "--host", host,
            "--port", str(port),
            "--workers", str(options["workers"]),
            "--backpressure", str(_REQUESTS_IN_FLIGHT),
            "--no-ws",
            # A client that has not sent its headers in 10 s is dropped
            # before it reaches a request thread.
            "--http1-header-read-timeout", "10000",
            "--log-level", "warning",
            "--workers-kill-timeout", str(int(_STOP_TIMEOUT) - 2),
            "membergate.asgi:application",
        ]  # fmt: skip
        return subprocess.Popen(command, env=env, preexec_fn=_die_with_parent)

    def start_worker(self, env: dict[str, str]) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "membergate.cli", "worker"]
        return subprocess.Popen(command, env=env, preexec_fn=_die_with_parent)

    def supervise(self, children: list[subprocess.Popen[bytes]]) -> int:
        """Wait for a signal or a child's death, then stop every child."""
        stopping = False

        def on_signal(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        while not stopping and all(child.poll() is None for child in children):
            time.sleep(0.2)

        failed = [c for c in children if c.poll() is not None]
        for child in failed:
            logger.error("%s exited with status %s", child.args, child.returncode)
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + _STOP_TIMEOUT
        for child in children:
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        return 1 if failed and not stopping else 0
