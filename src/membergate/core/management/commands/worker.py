import logging
import threading
import time
from argparse import ArgumentParser
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import connection
from django.utils.crypto import get_random_string
from django.utils.module_loading import module_has_submodule
from django_tasks_db.management.commands.db_worker import Worker

from membergate.core import maintenance
from membergate.core.datadir import hold_shared_lock
from membergate.core.health import unapplied_migrations

logger = logging.getLogger(__name__)


def _load_periodic_jobs() -> None:
    """Import each app's `jobs` module so its periodic jobs register."""
    for config in apps.get_app_configs():
        if config.name.startswith("membergate.") and module_has_submodule(
            config.module, "jobs"
        ):
            __import__(f"{config.name}.jobs")


class Command(BaseCommand):
    help = "Run a background worker: sends emails and does periodic upkeep."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--interval",
            type=float,
            default=0.5,
            help="seconds to wait between polls of an empty queue (default 0.5)",
        )
        parser.add_argument(
            "--batch",
            action="store_true",
            help="run the tasks that are due, then exit",
        )

    def handle(self, *args: Any, interval: float, batch: bool, **options: Any) -> None:
        if connection.vendor == "sqlite":
            hold_shared_lock()
        self.wait_for_migrations()
        _load_periodic_jobs()
        worker_id = get_random_string(32)
        worker = Worker(
            queue_names=["*"],
            interval=interval,
            batch=batch,
            backend_name="default",
            startup_delay=not batch,
            max_tasks=None,
            worker_id=worker_id,
            excluded_queue_names=[],
        )
        if not batch:
            stop = threading.Event()
            thread = threading.Thread(
                target=self.run_jobs, args=(stop,), name="maintenance", daemon=True
            )
            thread.start()
        logger.info("worker %s started", worker_id)
        worker.configure_signals()
        try:
            worker.run()
        finally:
            if not batch:
                stop.set()
        logger.info("worker %s stopped", worker_id)

    @staticmethod
    def wait_for_migrations(poll_seconds: float = 2) -> None:
        """Wait until `serve` has brought the database up to this release.

        A worker started beside a new server, or before the first one, would
        otherwise fail on tables and columns the server has yet to create.
        """
        announced = False
        while unapplied := unapplied_migrations():
            if not announced:
                logger.warning(
                    "waiting for %d database migrations: `membergate serve` "
                    "applies them when it starts",
                    unapplied,
                )
                announced = True
            time.sleep(poll_seconds)
        if announced:
            logger.info("the database is migrated; the worker starts")

    @staticmethod
    def run_jobs(stop: threading.Event) -> None:
        while not stop.is_set():
            maintenance.run_due_jobs()
            stop.wait(5)
