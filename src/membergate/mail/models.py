"""Email deliveries: every email Membergate sends, and how it went."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Delivery(models.Model):
    class Kind(models.TextChoices):
        WELCOME = "welcome", "Welcome"

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

    def __str__(self) -> str:
        return f"{self.get_kind_display()} email to {self.to_email}"
