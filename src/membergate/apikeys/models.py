"""API keys: what senders of webhooks authenticate with."""

import hashlib
import secrets
from datetime import timedelta

from django.db import models
from django.utils import timezone

from membergate.core import rows

KEY_PREFIX = "mg_"
# Shown in lists so owners can tell keys apart; 8 characters of the key's
# 256 random bits reveal nothing useful.
DISPLAY_LENGTH = len(KEY_PREFIX) + 8
# last_used_at is refreshed at most this often, so a busy key does not turn
# every request into an extra write.
LAST_USED_PRECISION = timedelta(minutes=1)


def hash_secret(secret: str) -> str:
    """The stored form of a key.

    Keys are 256 random bits, so a plain SHA-256 cannot be reversed by
    guessing; a slow password hash would only slow down every request.
    """
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


class ApiKeyQuerySet(models.QuerySet["ApiKey"]):
    def usable(self) -> "ApiKeyQuerySet":
        return self.filter(revoked_at__isnull=True)


class ApiKey(models.Model):
    name = models.CharField(max_length=100, unique=True)
    display_prefix = models.CharField(
        "starts with", max_length=DISPLAY_LENGTH, editable=False
    )
    secret_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Requests a minute this key may make; empty for no limit.",
    )

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        verbose_name = "API key"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @classmethod
    def create(cls, name: str, **fields: object) -> tuple["ApiKey", str]:
        """Create a key; return it with its secret, which is not kept."""
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        key = cls.objects.create(
            name=name,
            display_prefix=secret[:DISPLAY_LENGTH],
            secret_hash=hash_secret(secret),
            **fields,
        )
        return key, secret

    @classmethod
    def authenticate(cls, secret: str) -> "ApiKey | None":
        """Return the usable key with this secret, or None.

        The look-up is by the secret's hash, so the time it takes depends on
        the hash, which an attacker cannot steer towards a real key; the
        final comparison is constant-time all the same.
        """
        digest = hash_secret(secret)
        found = rows.select(cls, "secret_hash = %s AND revoked_at IS NULL", [digest])
        key = found[0] if found else None
        if key is None or not secrets.compare_digest(key.secret_hash, digest):
            return None
        return key

    def touch(self) -> None:
        """Record that the key was used, at most once per LAST_USED_PRECISION."""
        now = timezone.now()
        if self.last_used_at and now - self.last_used_at < LAST_USED_PRECISION:
            return
        self.last_used_at = now
        ApiKey.objects.filter(pk=self.pk).update(last_used_at=now)

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])
