"""Background tasks that send email."""

from django.tasks import task

from membergate.mail import sending, services


@task()
def send_delivery(delivery_id: int) -> int:
    """Send this delivery, with whatever else is due, on one connection.

    A delivery another worker has sent or is sending is left alone, so a
    task that runs twice sends nothing twice. Return how many were sent.
    """
    return sending.send_due(first_id=delivery_id)


@task()
def send_password_link(email: str) -> None:
    """Queue a password link for this address if it has an account."""
    services.enqueue_password_link(email)
