"""Periodic upkeep that the background worker runs beside its tasks.

Apps register jobs in their `jobs` module with ``@periodic(minutes)`` (or
``@periodic(seconds=15)``); each worker runs the jobs that are due, looking
every few seconds. Jobs must be safe to run in several
workers at once: delete in small batches, claim rows with
``select_for_update(skip_locked=True)``.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import close_old_connections

logger = logging.getLogger(__name__)


@dataclass
class Job:
    function: Callable[[], object]
    every_seconds: float
    next_run: float = field(default=0.0)


JOBS: list[Job] = []


def periodic[F: Callable[[], object]](
    minutes: float = 0, *, seconds: float = 0
) -> Callable[[F], F]:
    every_seconds = minutes * 60 + seconds
    if every_seconds <= 0:
        raise ValueError("a periodic job needs a positive interval")

    def register(function: F) -> F:
        JOBS.append(Job(function, every_seconds))
        return function

    return register


def run_due_jobs(now: float | None = None) -> None:
    now = time.monotonic() if now is None else now
    for job in JOBS:
        if job.next_run > now:
            continue
        job.next_run = now + job.every_seconds
        close_old_connections()
        try:
            job.function()
        except Exception:
            # One failing job must not stop the others or the worker; it is
            # tried again at its next turn.
            logger.exception("maintenance job %s failed", job.function.__qualname__)
