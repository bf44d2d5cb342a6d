"""The worker prunes the request log and idempotency records in batches."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from membergate.api import idempotency
from membergate.api import jobs as api_jobs
from membergate.api.models import IdempotencyRecord, RequestLog

pytestmark = pytest.mark.django_db


def deletes_from(table: str, queries: CaptureQueriesContext) -> int:
    return sum(
        1
        for query in queries.captured_queries
        if query["sql"].startswith("DELETE") and table in query["sql"]
    )


def log_entry(days_ago: float) -> int:
    entry = RequestLog.objects.create(
        created_at=timezone.now() - timedelta(days=days_ago),
        action=RequestLog.Action.CREATE_MEMBER,
        method="POST",
        path="/api/v1/members",
        body='{"email": "ada@example.com", "memberships": "1"}',
        content_type="application/json",
        source_ip="203.0.113.5",
        key_name="zapier",
        email="ada@example.com",
        status_code=201,
        response={"status": 201, "data": {"created": True}},
        duration_ms=12.5,
    )
    return entry.pk


def test_old_request_log_rows_go_a_batch_at_a_time(settings, monkeypatch):
    settings.API_REQUEST_LOG_DAYS = 30
    monkeypatch.setattr(api_jobs, "BATCH", 2)
    for _ in range(5):
        log_entry(days_ago=31)
    new = log_entry(days_ago=29)

    with CaptureQueriesContext(connection) as queries:
        deleted = api_jobs.prune_request_log()

    assert deleted == 5
    assert list(RequestLog.objects.values_list("pk", flat=True)) == [new]
    # 2 + 2 + 1: no statement deletes more than a batch.
    assert deletes_from(RequestLog._meta.db_table, queries) == 3
    assert api_jobs.prune_request_log() == 0


def idempotency_record(api_key, number: int, hours_ago: float) -> int:
    record = IdempotencyRecord.objects.create(
        api_key=api_key,
        key=f"create-ada-{number}",
        fingerprint=f"{number:064x}",
        created_at=timezone.now() - timedelta(hours=hours_ago),
        status_code=201,
        response={"status": 201, "data": {"created": True}},
    )
    return record.pk


def test_idempotency_records_older_than_a_day_go_a_batch_at_a_time(api_key):
    key, _ = api_key
    for number in range(5):
        idempotency_record(key, number, hours_ago=25)
    new = idempotency_record(key, 5, hours_ago=23)

    with CaptureQueriesContext(connection) as queries:
        deleted = idempotency.prune(batch=2)

    assert deleted == 5
    assert list(IdempotencyRecord.objects.values_list("pk", flat=True)) == [new]
    assert deletes_from(IdempotencyRecord._meta.db_table, queries) == 3
    assert idempotency.prune(batch=2) == 0
