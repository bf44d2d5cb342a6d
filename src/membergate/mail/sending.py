"""Sending due deliveries: claim a batch, send it over a few connections, record.

A delivery goes ``queued`` → ``sending`` in one conditional UPDATE (rows
locked with SKIP LOCKED on PostgreSQL; SQLite's write lock serializes the
claim), so however many workers run, one of them sends it. Each delivery
is marked sent in its own commit right after the mail server accepted it:
a worker that dies between the two leaves it ``sending``, and the sweeper
sends it again once MAIL_STUCK_SECONDS have passed. That gap, at most one
email per connection, is the one way an email can arrive twice.
"""

import contextlib
import logging
import smtplib
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.db import connections, transaction
from django.db.models import F
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from membergate.mail import rendering
from membergate.mail.models import Delivery

logger = logging.getLogger(__name__)

BATCH_SIZE = 100
# A batch this large or larger is sent over several connections at once.
CONNECTIONS = 4
MIN_PER_LANE = 10
# Backoff doubles from MAIL_RETRY_BASE_SECONDS up to this.
MAX_RETRY_DELAY = timedelta(hours=1)
# An idle SMTP connection kept longer than this is closed; most servers
# drop idle clients after a minute or so.
IDLE_SECONDS = 20.0

_READY = "READY"
_SUCCESSFUL = "SUCCESSFUL"


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the given number of failed attempts."""
    base = timedelta(seconds=settings.MAIL_RETRY_BASE_SECONDS)
    # The exponent is capped so that many attempts cannot overflow timedelta.
    doubled = base * 2 ** min(max(attempts - 1, 0), 20)
    delay: timedelta = min(doubled, max(MAX_RETRY_DELAY, base))
    return delay


def queue_task(delivery_id: int, run_after: datetime | None = None) -> str:
    """Queue the task that sends this delivery, in the caller's transaction."""
    from membergate.mail.tasks import send_delivery

    task = send_delivery.using(run_after=run_after) if run_after else send_delivery
    result = task.enqueue(delivery_id)
    Delivery.objects.filter(pk=delivery_id).update(task_id=result.id)
    return result.id


def claim_due(first_id: int | None, limit: int = BATCH_SIZE) -> list[Delivery]:
    """Move up to ``limit`` due deliveries to ``sending`` and return them.

    ``first_id`` is claimed first when it is due. Rows another worker holds
    are skipped, never waited for.
    """
    now = timezone.now()
    due = Delivery.objects.filter(
        status=Delivery.Status.QUEUED, next_attempt_at__lte=now
    ).select_for_update(skip_locked=True)
    with transaction.atomic():
        ids: list[int] = []
        if first_id is not None:
            ids = list(due.filter(pk=first_id).values_list("pk", flat=True))
        others = due.exclude(pk__in=ids).order_by("next_attempt_at", "pk")
        ids += others.values_list("pk", flat=True)[: limit - len(ids)]
        if not ids:
            return []
        Delivery.objects.filter(pk__in=ids, status=Delivery.Status.QUEUED).update(
            status=Delivery.Status.SENDING,
            claimed_at=now,
            attempts=F("attempts") + 1,
        )
        claimed = Delivery.objects.filter(pk__in=ids).select_related("member")
        return list(claimed.order_by("pk"))


class Outbox:
    """The mail backend of this process, kept open between batches."""

    def __init__(self) -> None:
        self.backend: BaseEmailBackend | None = None
        self.used_at = 0.0

    def open(self) -> BaseEmailBackend:
        if self.backend is not None and not self._usable(self.backend):
            self.close()
        if self.backend is None:
            backend = mail.mailers.default
            backend.open()
            self.backend = backend
        self.used_at = time.monotonic()
        return self.backend

    def _usable(self, backend: BaseEmailBackend) -> bool:
        if time.monotonic() - self.used_at > IDLE_SECONDS:
            return False
        if isinstance(backend, SmtpBackend) and backend.connection is not None:
            try:
                return bool(backend.connection.noop()[0] == 250)
            except (OSError, smtplib.SMTPException):
                return False
        return True

    def close(self) -> None:
        if self.backend is not None:
            with contextlib.suppress(OSError):
                self.backend.close()
            self.backend = None


# One per connection a batch may use; a worker sends one batch at a time,
# so each is used by one thread at a time.
outboxes = [Outbox() for _ in range(CONNECTIONS)]


def close_connections() -> None:
    for lane in outboxes:
        lane.close()


@dataclass
class Failure:
    delivery: Delivery
    error: str
    permanent: bool


def _permanent(exc: Exception) -> bool:
    """Whether retrying cannot help: the address itself was refused."""
    if isinstance(exc, ValueError):
        return True
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return False


def _describe(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(
            f"{code} {reply.decode(errors='replace')}"
            for code, reply in exc.recipients.values()
        )
    return f"{type(exc).__name__}: {exc}"[:1000]


def send_due(first_id: int | None = None) -> int:
    """Send due deliveries, batch after batch, for at most half the lease.

    Return how many were sent.
    """
    started = time.monotonic()
    budget = settings.MAIL_STUCK_SECONDS / 2
    sent = 0
    while time.monotonic() - started < budget:
        batch = claim_due(first_id)
        if not batch:
            break
        first_id = None
        sent += send_batch(batch, deadline=started + budget)
        if len(batch) < BATCH_SIZE:
            break
    return sent


@dataclass
class LaneResult:
    sent: list[Delivery] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    unsent: list[Delivery] = field(default_factory=list)
    unreachable: str = ""


def send_batch(batch: Sequence[Delivery], deadline: float) -> int:
    """Send claimed deliveries, on several connections at once when there
    are many; record each outcome. Return how many were sent.

    The lanes overlap their waits for the mail server and the database;
    each delivery is in exactly one lane.
    """
    lanes = max(1, min(CONNECTIONS, len(batch) // MIN_PER_LANE))
    chunks = [list(batch[i::lanes]) for i in range(lanes)]
    if lanes == 1:
        results = [_send_lane(outboxes[0], chunks[0], deadline)]
    else:
        with ThreadPoolExecutor(lanes, thread_name_prefix="mail") as pool:
            results = list(
                pool.map(
                    _send_lane_in_thread, outboxes[:lanes], chunks, [deadline] * lanes
                )
            )

    unreachable = [r for r in results if r.unreachable]
    if unreachable:
        logger.warning(
            "the mail server cannot be reached (%s); %d emails wait for a retry",
            unreachable[0].unreachable,
            sum(len(r.failures) for r in unreachable),
        )
    sent = [d for r in results for d in r.sent]
    _record_failures([f for r in results for f in r.failures])
    _release([d for r in results for d in r.unsent])
    _finish_tasks(sent)
    return len(sent)


def _send_lane_in_thread(
    lane: Outbox, pending: list[Delivery], deadline: float
) -> LaneResult:
    try:
        return _send_lane(lane, pending, deadline)
    finally:
        # This thread's database connection ends with it.
        connections.close_all()


def _send_lane(lane: Outbox, pending: list[Delivery], deadline: float) -> LaneResult:
    """Send on one connection, marking each delivery sent as soon as it is."""
    result = LaneResult()
    composer = rendering.Composer()
    try:
        backend = lane.open()
    except (OSError, smtplib.SMTPException) as exc:
        lane.close()
        result.unreachable = _describe(exc)
        result.failures = [Failure(d, result.unreachable, False) for d in pending]
        return result

    while pending:
        if time.monotonic() > deadline:
            result.unsent = pending
            break
        delivery = pending.pop(0)
        if delivery.member is None:
            result.failures.append(
                Failure(delivery, "the member no longer exists", True)
            )
            continue
        try:
            message = composer.message(delivery.kind, delivery.member)
            delivery.subject = message.subject[:255]
            backend.send_messages([message])
        except (OSError, ValueError, smtplib.SMTPException) as exc:
            result.failures.append(Failure(delivery, _describe(exc), _permanent(exc)))
            if isinstance(exc, smtplib.SMTPRecipientsRefused | ValueError):
                continue
            # The connection may be broken: open a new one for the rest.
            lane.close()
            try:
                backend = lane.open()
            except (OSError, smtplib.SMTPException) as reopen:
                error = _describe(reopen)
                result.failures += [Failure(d, error, False) for d in pending]
                break
            continue
        _mark_sent(delivery)
        result.sent.append(delivery)
    return result


def _mark_sent(delivery: Delivery) -> None:
    # Its own commit, right after the server accepted the email: this keeps
    # the gap in which a crash means a second copy to one email.
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.Status.SENT,
        sent_at=timezone.now(),
        subject=delivery.subject,
        last_error="",
    )


def _finish_tasks(sent: Sequence[Delivery]) -> None:
    """Mark done the waiting tasks of deliveries this batch sent.

    They would find nothing left to do; marking them now spares a worker
    starting each for nothing. A task a worker already holds is RUNNING and
    left alone.
    """
    task_ids = [d.task_id for d in sent if d.task_id is not None]
    if task_ids:
        DBTaskResult.objects.filter(id__in=task_ids, status=_READY).update(
            status=_SUCCESSFUL, finished_at=timezone.now()
        )


def _release(deliveries: Sequence[Delivery]) -> None:
    """Give unsent deliveries back, uncounted, for another task to send."""
    if not deliveries:
        return
    ids = [d.pk for d in deliveries]
    now = timezone.now()
    with transaction.atomic():
        Delivery.objects.filter(pk__in=ids, status=Delivery.Status.SENDING).update(
            status=Delivery.Status.QUEUED,
            next_attempt_at=now,
            attempts=F("attempts") - 1,
            claimed_at=None,
        )
        queue_task(ids[0])


def _record_failures(failures: Sequence[Failure]) -> None:
    if not failures:
        return
    now = timezone.now()
    window = timedelta(hours=settings.MAIL_RETRY_HOURS)
    with transaction.atomic():
        for failure in failures:
            delivery = failure.delivery
            give_up_at = delivery.give_up_at or now + window
            fields: dict[str, object] = {
                "last_error": failure.error,
                "subject": delivery.subject,
                "claimed_at": None,
            }
            retry_at = None
            if failure.permanent or now >= give_up_at:
                fields["status"] = Delivery.Status.FAILED
                logger.error(
                    "gave up on delivery %s (%s email) after %d attempts: %s",
                    delivery.pk,
                    delivery.kind,
                    delivery.attempts,
                    failure.error,
                )
            else:
                retry_at = now + retry_delay(delivery.attempts)
                fields.update(
                    status=Delivery.Status.QUEUED,
                    next_attempt_at=retry_at,
                    give_up_at=give_up_at,
                )
            Delivery.objects.filter(
                pk=delivery.pk, status=Delivery.Status.SENDING
            ).update(**fields)
            if retry_at is not None:
                queue_task(delivery.pk, run_after=retry_at)
