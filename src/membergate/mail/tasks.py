"""Background tasks that send email."""

from django.tasks import task


@task()
def send_delivery(delivery_id: int) -> None:
    """Send one delivery. Filled in by the email delivery work."""
