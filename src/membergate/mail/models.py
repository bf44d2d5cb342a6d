"""Email deliveries: every email Membergate sends, and how it went."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Kind(models.TextChoices):
    WELCOME = "welcome", "Welcome"
    PASSWORD_LINK = "password_link", "New password link"


class Delivery(models.Model):
    Kind = Kind

    class Status(models.TextChoices):
        QUEUED = "queued", "Waiting"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deliveries",
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    to_email = models.CharField("to", max_length=254)
    subject = models.CharField(max_length=255, blank=True)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    # The background task that will send it; the sweeper queues a new one
    # when this one is gone.
    task_id = models.UUIDField(null=True, blank=True, editable=False)
    claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Set at the first failure: retries stop at the first failure after it.
    give_up_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name_plural = "deliveries"
        ordering = ["-created_at", "-id"]
        constraints = [
            # A new member gets one welcome email, however often the request
            # that created them is retried.
            models.UniqueConstraint(
                fields=["member"],
                condition=Q(kind="welcome"),
                name="one_welcome_email_per_member",
            ),
        ]
        indexes = [
            # Serves the workers' search for due deliveries and the sweeper.
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} email to {self.to_email}"


class EmailTemplate(models.Model):
    """The subject and text of one kind of email, as the site owner wrote it.

    Both are Django templates; the placeholders are listed in the admin.
    The HTML version is made from the text, so the two never disagree.
    """

    kind = models.CharField(max_length=20, choices=Kind.choices, unique=True)
    subject = models.CharField(max_length=200)
    body = models.TextField("text")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "email text"
        verbose_name_plural = "email texts"
        ordering = ["kind"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} email"
