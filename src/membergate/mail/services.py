"""Queueing emails, inside the caller's transaction."""

from membergate.mail.models import Delivery
from membergate.mail.tasks import send_delivery
from membergate.members.models import Member


def enqueue_welcome_email(member: Member) -> Delivery:
    """Record a welcome email for a new member and queue its sending.

    Call inside the transaction that created the member: the delivery row
    and the task row commit or roll back with it.
    """
    delivery = Delivery.objects.create(
        member=member, kind=Delivery.Kind.WELCOME, to_email=member.email
    )
    send_delivery.enqueue(delivery.pk)
    return delivery
