"""What the incoming API keeps: the request log, idempotency records and
rate counters."""

from django.db import models
from django.utils import timezone


class RequestLog(models.Model):
    """One call to the incoming API, with every secret masked.

    Kept for MEMBERGATE_REQUEST_LOG_DAYS (30 by default), then pruned by the
    worker.
    """

    class Action(models.TextChoices):
        CREATE_MEMBER = "create_member", "Create member"
        ADD_MEMBERSHIP = "add_membership", "Add membership"
        REMOVE_MEMBERSHIP = "remove_membership", "Remove membership"
        LIST_MEMBERSHIPS = "list_memberships", "List memberships"
        LIST_MEMBERS = "list_members", "List members"
        GET_MEMBER = "get_member", "Get member"
        OTHER = "other", "Other"

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    request_id = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=20, choices=Action.choices)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    # The request as it came, secrets masked: the query string, the headers
    # that matter, the body (at most 64 KiB; larger ones are refused).
    query = models.TextField(blank=True)
    headers = models.JSONField(default=dict)
    content_type = models.CharField(max_length=200, blank=True)
    body = models.TextField(blank=True)
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    api_key = models.ForeignKey(
        "apikeys.ApiKey",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Kept apart from the foreign key so the log still names a deleted key.
    key_name = models.CharField(max_length=100, blank=True)
    email = models.CharField(max_length=254, blank=True, db_index=True)
    status_code = models.PositiveSmallIntegerField()
    error_code = models.CharField(max_length=40, blank=True)
    response = models.JSONField(default=dict)
    duration_ms = models.FloatField()
    idempotency_key = models.CharField(max_length=255, blank=True)
    dry_run = models.BooleanField(default=False)
    # The answer was the stored one of an earlier request with the same
    # Idempotency-Key; nothing changed.
    replayed = models.BooleanField(default=False)
    resent_by = models.ForeignKey(
        "members.Member",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    resent_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="resends"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["action", "-created_at"], name="requestlog_action_time"
            ),
            models.Index(
                fields=["status_code", "-created_at"], name="requestlog_status_time"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} → {self.status_code}"

    @property
    def succeeded(self) -> bool:
        return 200 <= self.status_code < 300


class IdempotencyRecord(models.Model):
    """The answer given to a request that carried an Idempotency-Key.

    Claimed by inserting the row inside the request's transaction: of two
    concurrent requests with the same key, the unique constraint lets one
    apply and makes the other wait and then replay. Kept 24 hours.
    """

    api_key = models.ForeignKey("apikeys.ApiKey", on_delete=models.CASCADE)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    status_code = models.PositiveSmallIntegerField(null=True)
    response = models.JSONField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["api_key", "key"], name="one_idempotency_record_per_key"
            ),
        ]

    def __str__(self) -> str:
        return self.key


class RateCounter(models.Model):
    """Hits of one scope (a source address, an API key) in one minute.

    A fixed window shared by every server through the database; rows of
    past minutes are pruned by the worker.
    """

    scope = models.CharField(max_length=100)
    window_start = models.BigIntegerField()
    hits = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["scope", "window_start"], name="one_rate_counter_per_window"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scope} @ {self.window_start}: {self.hits}"
