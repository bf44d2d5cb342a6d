"""The request log: every call, with no secret kept; resend and pruning."""

import logging
from datetime import timedelta
from typing import Any

import pytest
from django.forms.models import model_to_dict
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.utils import timezone

from membergate.api.jobs import prune_idempotency_records, prune_request_log
from membergate.api.models import IdempotencyRecord, RequestLog
from membergate.api.replay import resend_request
from membergate.core import maintenance
from membergate.core.management.commands.worker import _load_periodic_jobs
from membergate.members.models import Grant, Member
from tests.apiclient import Api


def stored(entry: RequestLog) -> str:
    return repr(model_to_dict(entry)) + repr(entry.response) + repr(entry.headers)


@pytest.fixture
def gold(make_membership):
    return make_membership("Gold")


def test_a_call_is_logged_with_what_it_did(api, api_key, gold):
    api.post(
        "/members",
        query=f"memberships={gold.pk}",
        json={"email": "A@x.org"},
        headers={"Idempotency-Key": "idem-1", "X-Request-ID": "rid-1"},
    )

    entry = RequestLog.objects.get()
    assert entry.action == "create_member"
    assert (entry.method, entry.path) == ("POST", "/api/v1/members")
    assert entry.key_name == "zapier"
    assert entry.api_key == api_key[0]
    assert entry.source_ip == "203.0.113.5"
    assert entry.email == "a@x.org"
    assert (entry.status_code, entry.error_code) == (201, "")
    assert entry.response["data"]["created"] is True
    assert entry.query == f"memberships={gold.pk}"
    assert entry.content_type == "application/json"
    assert '"email"' in entry.body
    assert entry.duration_ms > 0
    assert (entry.request_id, entry.idempotency_key) == ("rid-1", "idem-1")


@pytest.mark.parametrize(
    "way",
    [
        {"query": "opm_api_key={secret}&email=q@x.org"},
        {"headers": {"X-OPM-API-KEY": "{secret}"}},
        {"headers": {"X-API-Key": "{secret}"}},
        {"headers": {"Authorization": "Bearer {secret}"}},
        {"json": {"email": "j@x.org", "opm_api_key": "{secret}"}},
        {"data": {"email": "m@x.org", "opm_api_key": "{secret}"}},
        {"body": "email=f@x.org&opm_api_key={secret}",
         "content_type": "application/x-www-form-urlencoded"},
        {"body": '{"email": "broken", "opm_api_key": "{secret}"',
         "content_type": "application/json"},
        {"json": {"email": "n@x.org", "first_name": "{secret}"},
         "headers": {"X-API-Key": "{secret}"}},
    ],
)  # fmt: skip
def test_the_key_never_reaches_the_log(api_key, way, caplog):
    _, secret = api_key

    def fill(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        return value.replace("{secret}", secret)

    caplog.set_level(logging.DEBUG)
    Api(secret).call("POST", "/members", key=False, **fill(way))

    entry = RequestLog.objects.get()
    assert entry.status_code in (201, 400, 401), entry.response
    assert secret not in stored(entry)
    assert "********" in stored(entry)
    assert secret not in caplog.text


def test_a_multipart_key_is_masked(api_key):
    _, secret = api_key
    body = encode_multipart(BOUNDARY, {"email": "m@x.org", "opm_api_key": secret})
    answer = Api(secret).post(
        "/members", key=False, body=body, content_type=MULTIPART_CONTENT
    )
    assert answer.status_code == 201
    entry = RequestLog.objects.get()
    assert secret not in stored(entry)
    assert 'name="email"' in entry.body


def test_a_wrong_key_is_masked_too(db):
    Api("mg_almost_the_right_key").get("/memberships")
    entry = RequestLog.objects.get()
    assert entry.status_code == 401
    assert "mg_almost_the_right_key" not in stored(entry)
    assert entry.key_name == ""


def test_a_resend_runs_the_request_again_as_the_admin(api, gold):
    admin = Member.objects.create_superuser("owner@x.org", "a-long-password")
    api.post("/members", query=f"memberships={gold.pk}", json={"email": "r@x.org"})
    original = RequestLog.objects.get()
    Grant.objects.update(revoked_at=timezone.now())

    resent = resend_request(original, admin)

    assert resent.pk != original.pk
    assert resent.resent_from == original
    assert resent.resent_by == admin
    assert resent.status_code == 200
    assert resent.response["data"]["memberships_added"] == [gold.pk]
    grant = Grant.objects.open().get()
    assert (grant.granted_by_user, grant.granted_by_key) == (admin, None)
    assert resent.query == f"memberships={gold.pk}"


def test_a_resend_of_a_key_in_the_query_needs_no_key(api_key, gold):
    _, secret = api_key
    admin = Member.objects.create_superuser("owner@x.org", "a-long-password")
    Api(secret).post(
        "/members/add-membership",
        key=False,
        query=f"opm_api_key={secret}&membership_id={gold.pk}&email=gone@x.org",
    )
    original = RequestLog.objects.get()
    assert original.status_code == 404
    Member.objects.create_user("gone@x.org")

    resent = resend_request(original, admin)

    assert resent.status_code == 200
    assert secret not in stored(resent)
    assert "opm_api_key" not in resent.query


def test_old_rows_and_records_are_pruned(api, settings):
    settings.API_REQUEST_LOG_DAYS = 30
    for email in ("a@x.org", "b@x.org", "c@x.org"):
        api.post("/members", json={"email": email}, headers={"Idempotency-Key": email})
    old = timezone.now() - timedelta(days=31)
    first, second, _ = RequestLog.objects.order_by("id")
    RequestLog.objects.filter(pk__in=[first.pk, second.pk]).update(created_at=old)
    IdempotencyRecord.objects.filter(key="a@x.org").update(created_at=old)

    assert prune_request_log() == 2
    assert prune_idempotency_records() == 1
    assert RequestLog.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 2


@pytest.fixture
def worker_jobs(monkeypatch, transactional_db):
    """The periodic jobs as `membergate worker` loads them, all due now.

    Transactional: a run closes stale connections first, as a worker does,
    which would end a test's wrapping transaction.
    """
    _load_periodic_jobs()
    for job in maintenance.JOBS:
        monkeypatch.setattr(job, "next_run", 0.0)
    return maintenance.JOBS


def logged_calls(api, *ages: timedelta) -> list[int]:
    """One logged call per age, each with an idempotency record as old."""
    for i, _ in enumerate(ages):
        api.post(
            "/members",
            json={"email": f"{i}@x.org"},
            headers={"Idempotency-Key": str(i)},
        )
    ids = list(RequestLog.objects.order_by("id").values_list("pk", flat=True))
    for pk, age, i in zip(ids, ages, range(len(ages)), strict=True):
        RequestLog.objects.filter(pk=pk).update(created_at=timezone.now() - age)
        IdempotencyRecord.objects.filter(key=str(i)).update(
            created_at=timezone.now() - age
        )
    return ids


def test_a_due_worker_run_prunes_old_calls_and_idempotency_records(
    worker_jobs, api, settings, caplog
):
    assert prune_request_log in [job.function for job in worker_jobs]
    settings.API_REQUEST_LOG_DAYS = 30
    _, new = logged_calls(api, timedelta(days=31), timedelta(minutes=1))

    maintenance.run_due_jobs()

    assert list(RequestLog.objects.values_list("pk", flat=True)) == [new]
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["1"]
    assert "maintenance job" not in caplog.text


def test_the_request_log_days_set_how_long_the_worker_keeps_a_call(
    worker_jobs, api, settings
):
    settings.API_REQUEST_LOG_DAYS = 3
    _, kept = logged_calls(api, timedelta(days=4), timedelta(days=2))

    maintenance.run_due_jobs()

    assert list(RequestLog.objects.values_list("pk", flat=True)) == [kept]
