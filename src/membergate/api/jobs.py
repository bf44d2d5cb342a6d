"""The API's upkeep, run by the background worker."""

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from membergate.api import idempotency, ratelimit
from membergate.api.models import RequestLog
from membergate.core.maintenance import periodic

logger = logging.getLogger(__name__)
BATCH = 1000


@periodic(minutes=10)
def prune_request_log() -> int:
    """Delete request log rows older than MEMBERGATE_REQUEST_LOG_DAYS.

    In small batches, so neither database holds a long lock while the API
    keeps writing.
    """
    cutoff = timezone.now() - timedelta(days=settings.API_REQUEST_LOG_DAYS)
    total = 0
    while True:
        ids = list(
            RequestLog.objects.filter(created_at__lt=cutoff).values_list(
                "pk", flat=True
            )[:BATCH]
        )
        if not ids:
            break
        total += RequestLog.objects.filter(pk__in=ids).delete()[0]
    if total:
        logger.info("pruned %d request log rows older than %s", total, cutoff)
    return total


@periodic(minutes=10)
def prune_idempotency_records() -> int:
    return idempotency.prune(BATCH)


@periodic(minutes=5)
def prune_rate_counters() -> int:
    return ratelimit.prune()
