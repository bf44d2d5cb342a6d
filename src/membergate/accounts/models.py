"""What the members' pages keep: failed sign-ins, to slow down guessing."""

from django.db import models
from django.utils import timezone


class SignInFailures(models.Model):
    """Recent failed sign-ins for one account or one source address.

    Kept in the database so every server process sees the same count.
    """

    class Scope(models.TextChoices):
        ACCOUNT = "account", "Account"
        ADDRESS = "address", "Source address"

    scope = models.CharField(max_length=10, choices=Scope.choices)
    key = models.CharField(max_length=254)
    failures = models.PositiveIntegerField(default=0)
    last_failure_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "sign-in failures"
        constraints = [
            models.UniqueConstraint(
                fields=["scope", "key"], name="one_failure_count_per_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.failures} failures for {self.scope} {self.key}"
