"""The sweeper: deliveries that a stopped worker or a lost task left behind."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from membergate.core.maintenance import periodic
from membergate.mail.models import Delivery
from membergate.mail.sending import queue_task

logger = logging.getLogger(__name__)

SWEEP_LIMIT = 500


@periodic(minutes=0.25)
def requeue_stranded_deliveries() -> int:
    """Queue again what no worker will send otherwise.

    A delivery ``sending`` for longer than MAIL_STUCK_SECONDS belongs to a
    worker that died mid-send (workers give a batch back after half that
    time). A delivery due that long ago whose task is not waiting lost its
    task: a worker killed after taking the task but before the delivery, or
    a task row pruned. Django-tasks-db leaves a killed worker's task RUNNING
    for ever, so only the delivery rows are trusted here.
    """
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.MAIL_STUCK_SECONDS)
    waiting_task = DBTaskResult.objects.filter(id=OuterRef("task_id"), status="READY")
    stranded = (
        Delivery.objects.filter(
            Q(status=Delivery.Status.SENDING, claimed_at__lt=cutoff)
            | Q(status=Delivery.Status.QUEUED, next_attempt_at__lt=cutoff)
        )
        .exclude(Q(status=Delivery.Status.QUEUED) & Exists(waiting_task))
        .select_for_update(skip_locked=True)
        .order_by("pk")
    )
    with transaction.atomic():
        found = list(stranded.values_list("pk", "status")[:SWEEP_LIMIT])
        if not found:
            return 0
        ids = [pk for pk, _ in found]
        Delivery.objects.filter(pk__in=ids).update(
            status=Delivery.Status.QUEUED, next_attempt_at=now, claimed_at=None
        )
        for pk in ids:
            queue_task(pk)
    stuck = sum(1 for _, status in found if status == Delivery.Status.SENDING)
    logger.warning(
        "queued %d deliveries again: %d left sending by a stopped worker, "
        "%d whose task was lost",
        len(ids),
        stuck,
        len(ids) - stuck,
    )
    return len(ids)
