"""Every refusal: its status and code, the contract's order of checks, and
that nothing changed."""

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from django.db import DatabaseError, OperationalError, connection
from django_tasks_db.models import DBTaskResult
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from membergate.api.models import RequestLog
from membergate.mail.models import Delivery
from membergate.members.models import Grant, Member, Membership
from tests.apiclient import Api


def snapshot() -> tuple[list[Any], list[Any], int]:
    return (
        list(Member.objects.values_list("email", "first_name", "last_name")),
        list(Grant.objects.values_list("member_id", "membership_id", "revoked_at")),
        Delivery.objects.count(),
    )


@pytest.fixture
def gold(make_membership):
    return make_membership("Gold")


@pytest.fixture
def archived(make_membership):
    from django.utils import timezone

    return make_membership("Old", archived_at=timezone.now())


def cases(member_email: str, gold_id: int, archived_id: int) -> list[Any]:
    json = "application/json"
    return [
        # (path, call kwargs, status, code, field)
        ("/members", {"json": {}}, 400, "missing_email", "email"),
        ("/members", {"json": {"email": "nope"}}, 400, "invalid_email", "email"),
        ("/members", {"json": {"email": "a@x.org", "first_name": "x" * 151}},
         400, "invalid_name", "first_name"),
        ("/members", {"json": {"email": "a@x.org", "notify": "maybe"}},
         400, "invalid_notify", "notify"),
        ("/members", {"json": {"email": "a@x.org", "memberships": [2.0]}},
         400, "invalid_memberships", "memberships"),
        ("/members", {"body": b'{"email": ', "content_type": json},
         400, "invalid_json", None),
        ("/members", {"json": {"email": "a@x.org", "memberships": [gold_id, 9999]}},
         400, "unknown_membership", "memberships"),
        ("/members", {"json": {"email": "a@x.org", "memberships": [archived_id]}},
         400, "unknown_membership", "memberships"),
        ("/members/add-membership", {"json": {"email": member_email, "membership_id": 9999}},
         400, "unknown_membership", "membership_id"),
        ("/members/remove-membership", {"json": {"email": member_email, "membership_id": archived_id}},
         400, "unknown_membership", "membership_id"),
        ("/members/add-membership",
         {"json": {"email": member_email, "membership_id": gold_id, "memberships": [9999]}},
         400, "unknown_membership", "memberships"),
        ("/members/add-membership", {"json": {"email": "who@x.org", "membership_id": gold_id}},
         404, "member_not_found", "email"),
        ("/members/remove-membership", {"json": {"email": "who@x.org", "membership_id": gold_id}},
         404, "member_not_found", "email"),
        ("/members/add-membership", {"json": {"email": member_email}},
         400, "invalid_memberships", "membership_id"),
        ("/members", {"body": b"<member/>", "content_type": "application/xml"},
         415, "unsupported_media_type", None),
        ("/members", {"body": b"x" * (64 * 1024 + 1), "content_type": json},
         413, "payload_too_large", None),
        ("/members?first_name=J%FCrgen", {"json": {"email": member_email}},
         400, "invalid_body", None),
    ]  # fmt: skip


def test_each_refusal_has_its_code_and_changes_nothing(api, member, gold, archived):
    for path, kwargs, status, code, field in cases(member.email, gold.pk, archived.pk):
        before = snapshot()
        answer = api.post(path, **kwargs)
        body = answer.json()
        assert (answer.status_code, body["code"]) == (status, code), (path, kwargs)
        assert body["data"]["status"] == status
        assert body["data"].get("field") == field
        assert body["message"]
        assert snapshot() == before, code


def test_unknown_memberships_are_listed_as_numbers(api, member, gold):
    answer = api.post(
        "/members",
        json={"email": "a@x.org", "memberships": f"{gold.pk},77,78"},
    )
    assert answer.json()["data"]["ids"] == [77, 78]
    assert not Member.objects.filter(email="a@x.org").exists()


def test_an_unknown_membership_comes_before_an_unknown_member(api):
    answer = api.post(
        "/members/add-membership", json={"email": "who@x.org", "membership_id": 5}
    )
    assert (answer.status_code, answer.json()["code"]) == (400, "unknown_membership")


def test_keys_are_checked_first(api_key, member, gold):
    _, secret = api_key
    sender = Api(secret)
    missing = sender.post("/members", key=False, body=b"<x/>", content_type="text/xml")
    assert (missing.status_code, missing.json()["code"]) == (401, "missing_api_key")

    wrong = sender.get(
        "/members/add-membership", key=False, headers={"X-API-Key": "mg_wrong"}
    )
    assert (wrong.status_code, wrong.json()["code"]) == (401, "invalid_api_key")


def test_a_revoked_key_is_refused(api_key, db):
    key, secret = api_key
    key.revoke()
    answer = Api(secret).get("/memberships")
    assert (answer.status_code, answer.json()["code"]) == (401, "invalid_api_key")


def test_the_method_comes_before_the_body(api):
    answer = api.call(
        "DELETE", "/members/add-membership", body=b"<x/>", content_type="text/xml"
    )
    assert (answer.status_code, answer.json()["code"]) == (405, "method_not_allowed")


def test_the_body_type_comes_before_the_fields(api):
    answer = api.post(
        "/members", query="email=bad", body=b"<x/>", content_type="text/xml"
    )
    assert answer.status_code == 415


def test_an_oversized_body_is_refused_from_its_declared_length(api_key, db):
    """The body is never read: the declared length decides."""
    _, secret = api_key
    from django.test import Client

    answer = Client().generic(
        "POST",
        "/api/v1/members",
        data=b"{}",
        content_type="application/json",
        headers={"X-API-Key": secret},
        CONTENT_LENGTH=str(10 * 1024 * 1024),
    )
    assert (answer.status_code, answer.json()["code"]) == (413, "payload_too_large")


def test_a_body_of_exactly_the_limit_is_read(api):
    padding = "x" * (64 * 1024 - 40)
    body = f'{{"email": "a@x.org", "pad": "{padding}"}}'.encode()
    body = body.replace(b'"pad"', b'"pad"' + b" " * (64 * 1024 - len(body)))
    assert len(body) == 64 * 1024
    assert (
        api.post("/members", body=body, content_type="application/json").status_code
        == 201
    )


def test_every_refusal_is_in_the_request_log(api, member):
    api.post("/members", json={})
    api.get("/members/add-membership")
    api.post("/members", key=False, json={"email": "a@x.org"})
    logged = list(
        RequestLog.objects.order_by("id").values_list("status_code", "error_code")
    )
    assert logged == [
        (400, "missing_email"),
        (405, "method_not_allowed"),
        (401, "missing_api_key"),
    ]


def test_a_database_failure_is_an_error_answer_that_changes_nothing(
    api, gold, monkeypatch
):
    from membergate.api import actions

    def broken(*args, **kwargs):
        Member.objects.create(email="half@x.org")
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table")

    monkeypatch.setattr(actions, "grant_memberships", broken)
    answer = api.post("/members", json={"email": "a@x.org", "memberships": [gold.pk]})

    assert (answer.status_code, answer.json()["code"]) == (500, "internal_error")
    assert Member.objects.count() == 0
    assert Membership.objects.count() == 1
    assert RequestLog.objects.get().status_code == 500


def test_a_failure_after_the_welcome_email_was_queued_leaves_no_email(
    transactional_db, api, gold, monkeypatch
):
    """Real commits: the email's rows must roll back with the member."""
    from membergate.api import actions
    from membergate.mail.services import enqueue_welcome_email as real_enqueue

    queued: list[tuple[int, int]] = []

    def enqueue_then_count(member):
        delivery = real_enqueue(member)
        queued.append((delivery.pk, DBTaskResult.objects.count()))
        return delivery

    def broken(*args, **kwargs):
        raise DatabaseError("the answer could not be read back")

    monkeypatch.setattr(actions, "enqueue_welcome_email", enqueue_then_count)
    monkeypatch.setattr(actions, "_changed", broken)
    answer = api.post(
        "/members",
        json={"email": "a@x.org", "memberships": [gold.pk], "notify": 1},
    )

    assert (answer.status_code, answer.json()["code"]) == (500, "internal_error")
    # The email and its task were written before the failure came.
    assert [tasks for _, tasks in queued] == [1]
    assert not Member.objects.exists()
    assert not Grant.objects.exists()
    assert not Delivery.objects.exists()
    assert not DBTaskResult.objects.exists()
    assert RequestLog.objects.get().status_code == 500


@pytest.mark.slow
def test_bodies_without_a_length_are_read_up_to_the_limit(service):
    """Through the real server: chunked bodies, and a declared length."""
    import httpx

    service.start("--no-worker")
    url = f"{service.base_url}/api/v1/members"
    headers = {"X-API-Key": service.api_key, "Content-Type": "application/json"}

    def chunks(body: bytes):
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]

    small = httpx.post(url, content=chunks(b'{"email": "c@x.org"}'), headers=headers)
    assert small.status_code == 201, small.text
    big = b'{"email": "d@x.org", "pad": "' + b"x" * 70_000 + b'"}'
    refused = httpx.post(url, content=chunks(big), headers=headers)
    assert (refused.status_code, refused.json()["code"]) == (413, "payload_too_large")
    declared = httpx.post(url, content=big, headers=headers)
    assert declared.status_code == 413
    listed = httpx.get(url, headers=headers).json()["data"]
    emails = {m["email"] for m in listed["members"]}
    assert "c@x.org" in emails
    assert "d@x.org" not in emails


def test_an_unreachable_database_is_an_error_answer(api, monkeypatch):
    from membergate.apikeys.models import ApiKey

    def unreachable(secret):
        raise OperationalError("connection refused")

    monkeypatch.setattr(ApiKey, "authenticate", unreachable)
    answer = api.get("/memberships")
    assert (answer.status_code, answer.json()["code"]) == (500, "internal_error")
    assert answer["X-Request-ID"]


_junk = st.text(max_size=30)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    path=st.sampled_from(
        ["/members", "/members/add-membership", "/members/remove-membership"]
    ),
    method=st.sampled_from(["POST", "PUT", "PATCH", "GET"]),
    query=st.dictionaries(
        st.sampled_from(["email", "memberships", "membership_id", "notify", "x"]),
        _junk,
        max_size=4,
    ),
    content_type=st.sampled_from(
        ["", "application/json", "text/plain", "application/x-www-form-urlencoded",
         "multipart/form-data; boundary=b", "application/xml", "APPLICATION/JSON; x=y"]
    ),
    body=st.binary(max_size=200)
    | st.dictionaries(_junk, _junk | st.integers() | st.none(), max_size=4).map(
        lambda d: json.dumps(d).encode()
    ),
)  # fmt: skip
def test_no_input_gets_a_server_error(api, path, method, query, content_type, body):
    before = snapshot()
    answer = api.call(
        method,
        path,
        query=urlencode(query),
        body=body,
        content_type=content_type,
    )
    assert answer.status_code < 500, answer.content
    payload = answer.json()
    if answer.status_code >= 400:
        assert set(payload) == {"code", "message", "data"}
        assert payload["data"]["status"] == answer.status_code
        assert snapshot() == before
