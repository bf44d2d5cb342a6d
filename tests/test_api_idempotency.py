"""Idempotency-Key: a retried request is answered again and changes nothing."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest

from membergate.api.models import IdempotencyRecord, RequestLog
from membergate.members.models import Grant, Member
from tests.apiclient import Api


@pytest.fixture
def gold(make_membership):
    return make_membership("Gold")


def create(api: Api, email: str, key: str, **extra: Any) -> Any:
    return api.post(
        "/members", json={"email": email, **extra}, headers={"Idempotency-Key": key}
    )


def test_a_repeat_gets_the_stored_answer_and_changes_nothing(api, gold):
    first = create(api, "a@x.org", "k-1", memberships=[gold.pk])
    Grant.objects.all().update(revoked_at=Grant.objects.get().granted_at)

    again = create(api, "A@x.org ", "k-1", memberships=[gold.pk])

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Member.objects.count() == 1
    assert Grant.objects.open().count() == 0
    assert list(
        RequestLog.objects.order_by("id").values_list("replayed", flat=True)
    ) == [
        False,
        True,
    ]


def test_a_retry_by_put_of_a_post_is_the_same_request(api, gold):
    first = create(api, "a@x.org", "k-put", memberships=[gold.pk])

    again = api.call(
        "PUT",
        "/members",
        json={"email": "a@x.org", "memberships": [gold.pk]},
        headers={"Idempotency-Key": "k-put"},
    )

    assert (again.status_code, again.json()) == (201, first.json())
    assert again["Idempotent-Replayed"] == "true"


def test_the_same_key_for_another_request_is_refused(api):
    create(api, "a@x.org", "k-1")
    other = create(api, "b@x.org", "k-1")
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
    assert not Member.objects.filter(email="b@x.org").exists()


def test_keys_belong_to_their_api_key(api, db):
    from membergate.apikeys.models import ApiKey

    _, other_secret = ApiKey.create("make")
    create(api, "a@x.org", "shared")
    answer = create(Api(other_secret), "b@x.org", "shared")
    assert answer.status_code == 201
    assert "Idempotent-Replayed" not in answer


def test_a_key_older_than_a_day_is_forgotten(api):
    create(api, "a@x.org", "k-1")
    IdempotencyRecord.objects.update(
        created_at=IdempotencyRecord.objects.get().created_at - timedelta(hours=25)
    )
    answer = create(api, "b@x.org", "k-1")
    assert answer.status_code == 201
    assert Member.objects.count() == 2


def test_refusals_are_replayed_too(api):
    first = api.post(
        "/members/add-membership",
        json={"email": "who@x.org", "membership_id": 1},
        headers={"Idempotency-Key": "k-404"},
    )
    again = api.post(
        "/members/add-membership",
        json={"email": "who@x.org", "membership_id": 1},
        headers={"Idempotency-Key": "k-404"},
    )
    assert first.status_code == again.status_code == 400
    assert again["Idempotent-Replayed"] == "true"


def test_an_unreadable_key_is_refused(api):
    answer = create(api, "a@x.org", "x" * 256)
    assert (answer.status_code, answer.json()["code"]) == (
        400,
        "invalid_idempotency_key",
    )
    assert Member.objects.count() == 0


@pytest.mark.slow
def test_concurrent_duplicates_apply_once(service):
    service.start("--no-worker", "--threads", "4")
    gold_id = service.membergate(
        "membership", "create", "--title", "Gold"
    ).stdout.split()[-1]
    url = f"{service.base_url}/api/v1/members"

    def send(_: int) -> httpx.Response:
        return httpx.post(
            url,
            json={"email": "race@x.org", "memberships": [int(gold_id)]},
            headers={"X-API-Key": service.api_key, "Idempotency-Key": "race-1"},
            timeout=30,
        )

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(8)))

    assert {a.status_code for a in answers} == {201}
    assert all(a.json() == answers[0].json() for a in answers)
    assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == 7
    listed = httpx.get(
        f"{service.base_url}/api/v1/members",
        params={"email": "race@x.org"},
        headers={"X-API-Key": service.api_key},
    ).json()["data"]
    assert listed["total"] == 1
    assert len(listed["members"][0]["memberships"]) == 1
