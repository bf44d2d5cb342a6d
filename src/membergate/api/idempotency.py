"""Idempotency-Key: a repeated request gets the stored answer again.

A record is claimed by inserting it inside the request's transaction, so
the unique constraint decides between concurrent duplicates: on PostgreSQL
the second insert waits for the first transaction and then fails, on
SQLite transactions take the write lock when they begin. The loser reads
the committed record and replays it.
"""

import hashlib
import json
from dataclasses import asdict
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from membergate.api.answers import Answer, ApiError
from membergate.api.models import IdempotencyRecord
from membergate.api.parsing import Command
from membergate.apikeys.models import ApiKey

KEEP_FOR = timedelta(hours=24)
MAX_KEY_LENGTH = 255


def validate_key(raw: str) -> str:
    key = raw.strip()
    if len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise ApiError(
            400,
            "invalid_idempotency_key",
            f"The Idempotency-Key header must be printable ASCII of at most "
            f"{MAX_KEY_LENGTH} characters.",
            field="Idempotency-Key",
        )
    return key


def fingerprint(method: str, action: str, command: Command) -> str:
    """What makes two requests "the same": the parsed request, not its
    spelling, so a retry that orders its fields differently, or sends PUT
    where the first sent POST, still matches."""
    method = "POST" if method == "PUT" else method
    text = json.dumps(
        {"method": method, "action": action, "command": asdict(command)},
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def claim(api_key: ApiKey, key: str, print_: str) -> IdempotencyRecord | Answer:
    """Claim ``key`` for this request, or return the answer to give instead.

    Call inside the request's transaction; fill the record with ``store``
    before it commits.
    """
    now = timezone.now()
    found = IdempotencyRecord.objects.filter(api_key=api_key, key=key).first()
    if found is not None and found.created_at <= now - KEEP_FOR:
        found.delete()
        found = None
    if found is None:
        try:
            with transaction.atomic():
                return IdempotencyRecord.objects.create(
                    api_key=api_key, key=key, fingerprint=print_, created_at=now
                )
        except IntegrityError:
            found = IdempotencyRecord.objects.get(api_key=api_key, key=key)
    return _replay(found, print_)


def _replay(record: IdempotencyRecord, print_: str) -> Answer:
    if record.fingerprint != print_ or record.status_code is None:
        raise ApiError(
            422,
            "idempotency_key_reused",
            "This Idempotency-Key was already used for a different request. "
            "Use a new key for each new request.",
            field="Idempotency-Key",
        )
    return Answer(
        record.status_code,
        record.response or {},
        {"Idempotent-Replayed": "true"},
    )


def store(record: IdempotencyRecord, answer: Answer) -> None:
    record.status_code = answer.status
    record.response = answer.payload
    record.save(update_fields=["status_code", "response"])


def prune(batch: int = 1000) -> int:
    """Delete records older than 24 hours, a batch at a time."""
    cutoff = timezone.now() - KEEP_FOR
    total = 0
    while True:
        ids = list(
            IdempotencyRecord.objects.filter(created_at__lt=cutoff).values_list(
                "pk", flat=True
            )[:batch]
        )
        if not ids:
            return total
        total += IdempotencyRecord.objects.filter(pk__in=ids).delete()[0]
