import logging
from datetime import timedelta
from unittest.mock import patch

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from membergate.mail import jobs, sending
from membergate.mail.models import Delivery, EmailTemplate
from membergate.mail.services import enqueue_welcome_email, retry_deliveries
from membergate.members.models import Member
from tests.service import free_port
from tests.smtp import REFUSAL, SmtpServer

# A port nothing listens on: every attempt fails to connect.
CLOSED = {
    "default": {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {"host": "127.0.0.1", "port": free_port(), "timeout": 2},
    }
}


@pytest.fixture(autouse=True)
def fresh_outbox():
    sending.close_connections()
    yield
    sending.close_connections()


def run_worker() -> None:
    """Run the due tasks as `membergate worker --batch` does.

    The worker closes connections between tasks, which would end the test's
    transaction; here the connection stays.
    """
    with patch(f"{Worker.__module__}.close_old_connections"):
        _worker().run()


def _worker() -> Worker:
    return Worker(
        queue_names=["*"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test",
        excluded_queue_names=[],
    )


def new_member(email: str = "ada@example.com") -> Member:
    return Member.objects.create_user(email, first_name="Ada")


def test_it_sends_a_welcome_email_with_text_html_login_and_link(db, settings):
    settings.SITE_NAME = "Gold Club"
    settings.BASE_URL = "https://members.example.com"
    with transaction.atomic():
        delivery = enqueue_welcome_email(new_member())

    run_worker()

    (message,) = mail.outbox
    assert message.to == ["ada@example.com"]
    assert message.subject == "Welcome to Gold Club"
    assert "ada@example.com" in message.body
    assert "Gold Club" in message.body
    assert "https://members.example.com/account/set-password/" in message.body
    assert isinstance(message, EmailMultiAlternatives)
    html, mime = message.alternatives[0]
    assert mime == "text/html"
    assert 'href="https://members.example.com/account/set-password/' in str(html)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.subject) == (
        "sent",
        1,
        "Welcome to Gold Club",
    )


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transaction_enqueues_nothing():
    def failing_request() -> None:
        with transaction.atomic():
            enqueue_welcome_email(new_member())
            raise RuntimeError("the request failed after the member was made")

    with pytest.raises(RuntimeError):
        failing_request()

    assert not Member.objects.exists()
    assert not Delivery.objects.exists()
    assert not DBTaskResult.objects.exists()
    run_worker()
    assert mail.outbox == []


@pytest.mark.django_db(transaction=True)
def test_a_committed_email_is_sent_once_however_often_its_task_runs():
    with transaction.atomic():
        delivery = enqueue_welcome_email(new_member())
    sending.queue_task(delivery.pk)
    sending.queue_task(delivery.pk)

    run_worker()

    assert len(mail.outbox) == 1
    assert DBTaskResult.objects.exclude(status="SUCCESSFUL").count() == 0


def test_one_task_sends_every_due_email_on_one_connection(db):
    for n in range(5):
        enqueue_welcome_email(new_member(f"m{n}@example.com"))
    first = Delivery.objects.order_by("pk").first()
    assert first is not None

    assert sending.send_due(first.pk) == 5

    assert len(mail.outbox) == 5
    # Their tasks were marked done, not left for a worker to start idle.
    assert not DBTaskResult.objects.filter(status="READY").exists()


def test_a_claimed_delivery_cannot_be_claimed_again(db):
    delivery = enqueue_welcome_email(new_member())
    assert [d.pk for d in sending.claim_due(delivery.pk)] == [delivery.pk]
    assert sending.claim_due(delivery.pk) == []


def test_a_failing_mail_server_is_retried_with_backoff(db, settings):
    settings.MAILERS = CLOSED
    settings.MAIL_RETRY_BASE_SECONDS = 60
    delivery = enqueue_welcome_email(new_member())
    before = timezone.now()

    run_worker()

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("queued", 1)
    assert "Connection" in delivery.last_error or "refused" in delivery.last_error
    assert delivery.next_attempt_at - before >= timedelta(seconds=59)
    assert delivery.task_id is not None
    retry = DBTaskResult.objects.get(id=delivery.task_id)
    assert (retry.status, retry.run_after) == ("READY", delivery.next_attempt_at)


@pytest.mark.parametrize(
    ("attempts", "seconds"),
    [(1, 60), (2, 120), (3, 240), (6, 1920), (7, 3600), (30, 3600), (500, 3600)],
)
def test_the_retry_delay_doubles_up_to_an_hour(settings, attempts, seconds):
    settings.MAIL_RETRY_BASE_SECONDS = 60
    assert sending.retry_delay(attempts) == timedelta(seconds=seconds)


def test_retries_last_at_least_a_day_then_the_delivery_fails_once(db, settings, caplog):
    settings.MAILERS = CLOSED
    delivery = enqueue_welcome_email(new_member())
    run_worker()
    delivery.refresh_from_db()
    assert delivery.give_up_at is not None
    assert delivery.give_up_at - delivery.created_at >= timedelta(hours=24)

    # A retry one second before the end is still scheduled.
    Delivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now(),
        give_up_at=timezone.now() + timedelta(seconds=30),
    )
    sending.send_due(delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("queued", 2)

    # The first failure after the end is the last.
    Delivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now(), give_up_at=timezone.now()
    )
    with caplog.at_level(logging.ERROR, logger="membergate.mail.sending"):
        sending.send_due(delivery.pk)
        sending.send_due(delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 3)
    assert delivery.last_error
    gave_up = [r for r in caplog.records if "gave up on delivery" in r.getMessage()]
    assert len(gave_up) == 1
    assert delivery.last_error in gave_up[0].getMessage()
    # No retry is queued after the last failure.
    assert DBTaskResult.objects.filter(status="READY").count() == 2


def test_a_delivery_whose_member_was_deleted_fails_at_once(db, settings):
    delivery = enqueue_welcome_email(new_member())
    Member.objects.filter(email="ada@example.com").delete()

    run_worker()

    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_error) == (
        "failed",
        "the member no longer exists",
    )


def test_an_address_the_mail_server_refuses_fails_at_once(db, settings, caplog):
    with SmtpServer() as smtp:
        smtp.refuse("gone@example.com")
        settings.MAILERS = {
            "default": {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": {"host": "127.0.0.1", "port": smtp.port, "timeout": 5},
            }
        }
        refused = enqueue_welcome_email(new_member("gone@example.com"))
        kept = enqueue_welcome_email(new_member("ada@example.com"))

        with caplog.at_level(logging.ERROR, logger="membergate.mail.sending"):
            run_worker()
        sending.close_connections()

    refused.refresh_from_db()
    assert (refused.status, refused.attempts) == ("failed", 1)
    assert refused.last_error == REFUSAL
    assert not DBTaskResult.objects.filter(status="READY").exists()
    (logged,) = [
        r.getMessage()
        for r in caplog.records
        if r.name == "membergate.mail.sending" and r.levelno >= logging.ERROR
    ]
    assert f"gave up on delivery {refused.pk}" in logged
    assert REFUSAL in logged
    # The refusal ends nothing else on that connection.
    kept.refresh_from_db()
    assert kept.status == "sent"
    assert smtp.recipients() == {"ada@example.com": 1}


def test_retrying_a_failed_delivery_sends_it(db):
    delivery = enqueue_welcome_email(new_member())
    Delivery.objects.filter(pk=delivery.pk).update(status="failed", last_error="x")
    DBTaskResult.objects.all().delete()

    assert retry_deliveries([delivery]) == 1
    run_worker()

    delivery.refresh_from_db()
    assert (delivery.status, len(mail.outbox)) == ("sent", 1)


def test_the_sweeper_sends_again_what_a_killed_worker_left_sending(db, settings):
    settings.MAIL_STUCK_SECONDS = 60
    delivery = enqueue_welcome_email(new_member())
    sending.claim_due(delivery.pk)
    # The worker dies here; its task stays RUNNING for ever.
    DBTaskResult.objects.update(status="RUNNING")
    assert jobs.requeue_stranded_deliveries() == 0

    Delivery.objects.update(claimed_at=timezone.now() - timedelta(seconds=61))
    assert jobs.requeue_stranded_deliveries() == 1
    run_worker()

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, len(mail.outbox)) == ("sent", 2, 1)


def test_the_sweeper_gives_a_task_to_a_delivery_that_lost_its_own(db, settings):
    settings.MAIL_STUCK_SECONDS = 60
    delivery = enqueue_welcome_email(new_member())
    DBTaskResult.objects.all().delete()
    assert jobs.requeue_stranded_deliveries() == 0

    Delivery.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=61))
    assert jobs.requeue_stranded_deliveries() == 1
    run_worker()

    delivery.refresh_from_db()
    assert delivery.status == "sent"


def test_the_sweeper_leaves_a_delivery_whose_task_is_waiting(db, settings):
    settings.MAIL_STUCK_SECONDS = 60
    enqueue_welcome_email(new_member())
    Delivery.objects.update(next_attempt_at=timezone.now() - timedelta(hours=1))
    assert jobs.requeue_stranded_deliveries() == 0


def test_the_owner_s_text_is_used(db):
    EmailTemplate.objects.filter(kind="welcome").update(
        subject="Hi {{ first_name }}, welcome aboard",
        body="Your login is {{ email }}. Start here: {{ link }}",
    )
    enqueue_welcome_email(new_member())

    run_worker()

    (message,) = mail.outbox
    assert message.subject == "Hi Ada, welcome aboard"
    assert message.body.startswith("Your login is ada@example.com. Start here: http")
