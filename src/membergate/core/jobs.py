"""The worker's own upkeep: its heartbeat and pruning finished tasks."""

import logging
import os
import socket
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from membergate.core.maintenance import periodic
from membergate.core.models import WorkerHeartbeat

logger = logging.getLogger(__name__)

PRUNE_BATCH = 500
# Bounds one run, so the heartbeat beside it is never held up for long; a
# larger backlog is worked off over the next runs.
PRUNE_MAX_BATCHES = 20


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@periodic(seconds=15)
def beat() -> None:
    """Show /ready that this worker is alive."""
    WorkerHeartbeat.objects.update_or_create(
        worker=worker_name(), defaults={"beat_at": timezone.now()}
    )


@periodic(minutes=60)
def forget_departed_workers() -> None:
    WorkerHeartbeat.objects.filter(
        beat_at__lt=timezone.now() - timedelta(days=1)
    ).delete()


@periodic(minutes=10)
def prune_task_results(batch: int = PRUNE_BATCH) -> int:
    """Delete finished task results older than TASK_RESULT_DAYS, in batches.

    Small batches keep each delete's locks short, so sending email is never
    held up behind a large prune. Return how many were deleted.
    """
    cutoff = timezone.now() - timedelta(days=settings.TASK_RESULT_DAYS)
    finished = DBTaskResult.objects.finished().filter(finished_at__lt=cutoff)
    deleted = 0
    for _ in range(PRUNE_MAX_BATCHES):
        ids = list(finished.order_by().values_list("id", flat=True)[:batch])
        if not ids:
            break
        deleted += DBTaskResult.objects.filter(id__in=ids).delete()[0]
    if deleted:
        logger.info("pruned %d finished task results", deleted)
    return deleted
