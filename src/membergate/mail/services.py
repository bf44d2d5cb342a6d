"""Queueing emails, inside the caller's transaction."""

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from membergate.core import rows
from membergate.mail.models import Delivery
from membergate.mail.sending import queue_task
from membergate.members.emails import InvalidEmail, normalize_email
from membergate.members.models import Member

logger = logging.getLogger(__name__)

# At most this many password links a member may be sent in PASSWORD_LINK_WINDOW,
# so the public form cannot be used to flood someone's inbox.
PASSWORD_LINKS_PER_WINDOW = 3
PASSWORD_LINK_WINDOW = timedelta(hours=1)


def enqueue_welcome_email(member: Member) -> Delivery:
    """Record a welcome email for a new member and queue its sending.

    Call inside the transaction that created the member: the delivery row
    and the task row commit or roll back with it.
    """
    delivery = rows.insert(
        Delivery(member=member, kind=Delivery.Kind.WELCOME, to_email=member.email)
    )
    delivery.task_id = queue_task(delivery.pk)
    return delivery


def enqueue_password_link(email: str) -> Delivery | None:
    """Queue a password link for the member with this email, if there is one.

    Run by the worker, never in the request, so that the page answers the
    same way, in the same time, whether or not the address has an account.
    """
    try:
        address = normalize_email(email)
    except InvalidEmail:
        return None
    with transaction.atomic():
        member = (
            Member.objects.select_for_update()
            .filter(email=address, is_active=True)
            .first()
        )
        if member is None:
            return None
        recent = Delivery.objects.filter(
            member=member,
            kind=Delivery.Kind.PASSWORD_LINK,
            created_at__gt=timezone.now() - PASSWORD_LINK_WINDOW,
        ).count()
        if recent >= PASSWORD_LINKS_PER_WINDOW:
            logger.info(
                "member %s asked for too many password links; sent none", member.pk
            )
            return None
        delivery = Delivery.objects.create(
            member=member, kind=Delivery.Kind.PASSWORD_LINK, to_email=member.email
        )
        delivery.task_id = queue_task(delivery.pk)
    return delivery


def retry_deliveries(deliveries: "list[Delivery]") -> int:
    """Send failed deliveries again, with a fresh retry window."""
    count = 0
    with transaction.atomic():
        for delivery in deliveries:
            updated = Delivery.objects.filter(
                pk=delivery.pk, status=Delivery.Status.FAILED
            ).update(
                status=Delivery.Status.QUEUED,
                next_attempt_at=timezone.now(),
                give_up_at=None,
                last_error="",
            )
            if updated:
                queue_task(delivery.pk)
                count += 1
    return count
