"""Every error of the contract's table, checked from outside: its shape, the
order of the checks, and that it changes nothing.

Errors take the WordPress REST shape OptimizeMentor clients read:
``{"code", "message", "data": {"status", "field"?, "ids"?}}``.
"""

import json
from itertools import count

import pytest
from django.utils import timezone

from membergate.api.models import RequestLog
from membergate.apikeys.models import ApiKey
from membergate.mail.models import Delivery
from membergate.members.models import Grant, Member, Membership
from tests.api_helpers import (
    ALIAS,
    API,
    BASES,
    BRONZE,
    GOLD,
    SILVER,
    active_ids,
    assert_error,
    assert_member_answer,
    make_known_memberships,
    send,
    send_fields,
    snapshot,
)

EMAIL = "ada.lovelace@example.com"
ACTIONS = ("/members", "/members/add-membership", "/members/remove-membership")
LIMIT = 64 * 1024
_addresses = count(1)


def fresh_address() -> str:
    """A source address no other test has used, for the failed-key limit."""
    n = next(_addresses)
    return f"198.51.{n // 250}.{n % 250 + 1}"


@pytest.fixture
def known(db: None) -> None:
    make_known_memberships()


@pytest.fixture
def ada(known: None) -> Member:
    """A member holding Gold, for add and remove."""
    member = Member.objects.create_user(EMAIL, first_name="Ada", last_name="Lovelace")
    Grant.objects.create(member=member, membership_id=GOLD)
    return member


@pytest.fixture
def key(api_key: tuple[ApiKey, str]) -> str:
    return api_key[1]


# Authentication: 401


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("action", ACTIONS)
def test_no_key_is_401_missing_api_key(client, ada, base, action):
    before = snapshot()

    response = send(
        client,
        "POST",
        f"{base}{action}",
        body=json.dumps({"email": EMAIL, "memberships": [SILVER]}),
        content_type="application/json",
        remote_addr=fresh_address(),
    )

    assert_error(response, 401, "missing_api_key")
    assert snapshot() == before


@pytest.mark.parametrize(
    ("query", "headers"),
    [
        ("opm_api_key=mg_not-a-real-key", {}),
        ("", {"X-OPM-API-KEY": "mg_not-a-real-key"}),
        ("", {"X-API-Key": "mg_not-a-real-key"}),
        ("", {"Authorization": "Bearer mg_not-a-real-key"}),
    ],
)
def test_a_wrong_key_in_any_place_is_401_invalid_api_key(client, ada, query, headers):
    before = snapshot()

    response = send(
        client,
        "POST",
        f"{API}/members",
        query=f"{query}&email={EMAIL}&memberships=2" if query else "email=x@y.org",
        headers=headers,
        remote_addr=fresh_address(),
    )

    assert_error(response, 401, "invalid_api_key")
    assert snapshot() == before


def test_a_revoked_key_is_401_invalid_api_key(client, ada, api_key):
    stored, key = api_key
    stored.revoke()
    before = snapshot()

    response = send_fields(
        client,
        "/members/add-membership",
        key,
        fields={"email": EMAIL, "membership_id": SILVER},
        remote_addr=fresh_address(),
    )

    assert_error(response, 401, "invalid_api_key")
    assert snapshot() == before


@pytest.mark.parametrize(
    "place", ["opm_api_key", "X-OPM-API-KEY", "X-API-Key", "Bearer", "bearer"]
)
def test_a_good_key_is_accepted_in_each_place(client, known, key, place):
    query = f"email={EMAIL}"
    headers = {}
    if place == "opm_api_key":
        query += f"&opm_api_key={key}"
    elif place.lower() == "bearer":
        # The scheme of an Authorization header is case-insensitive.
        headers["Authorization"] = f"{place} {key}"
    else:
        headers[place] = key

    response = send(client, "POST", f"{ALIAS}/members", query=query, headers=headers)

    assert_member_answer(response, 201, EMAIL)


# Method: 405


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize(
    "action", ["/members/add-membership", "/members/remove-membership"]
)
def test_a_get_on_add_or_remove_is_405_saying_to_use_post(
    client, ada, key, base, action
):
    before = snapshot()

    response = send(
        client,
        "GET",
        f"{base}{action}",
        query=f"opm_api_key={key}&email={EMAIL}&membership_id={SILVER}",
    )

    body = assert_error(response, 405, "method_not_allowed")
    assert "POST" in body["message"]
    assert snapshot() == before


@pytest.mark.parametrize("method", ["DELETE", "PATCH"])
@pytest.mark.parametrize("action", ACTIONS)
def test_other_methods_on_the_actions_are_405(client, ada, key, method, action):
    before = snapshot()

    response = send(
        client,
        method,
        f"{API}{action}",
        query=f"opm_api_key={key}&email={EMAIL}&membership_id={SILVER}",
    )

    assert_error(response, 405, "method_not_allowed")
    assert snapshot() == before


# Body size and type: 413, 415


def padded_json(size: int) -> bytes:
    """A valid create body of exactly ``size`` bytes."""
    empty = json.dumps({"email": EMAIL, "padding": ""}).encode()
    return json.dumps({"email": EMAIL, "padding": "x" * (size - len(empty))}).encode()


def test_a_body_of_exactly_64_kib_is_accepted(client, known, key):
    body = padded_json(LIMIT)
    assert len(body) == LIMIT

    response = send(
        client,
        "POST",
        f"{API}/members",
        body=body,
        content_type="application/json",
        headers={"X-API-Key": key},
    )

    assert_member_answer(response, 201, EMAIL)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", padded_json(LIMIT + 1)),
        (
            "application/x-www-form-urlencoded",
            f"email={EMAIL}&padding={'x' * LIMIT}".encode(),
        ),
    ],
    ids=["json", "form"],
)
def test_a_body_over_64_kib_is_413(client, known, key, content_type, body):
    before = snapshot()

    response = send(
        client,
        "POST",
        f"{API}/members",
        body=body,
        content_type=content_type,
        headers={"X-API-Key": key},
    )

    assert_error(response, 413, "payload_too_large")
    assert snapshot() == before


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (
            "application/xml",
            f"<member><email>{EMAIL}</email><memberships>2</memberships></member>",
        ),
        ("text/xml; charset=utf-8", f"<email>{EMAIL}</email>"),
        ("text/plain", f"email {EMAIL}"),
        (None, f"<email>{EMAIL}</email>"),
        ("application/octet-stream", "\x00\x01binary"),
    ],
    ids=["xml", "text-xml", "plain-text-not-json", "no-type-not-json", "binary"],
)
def test_a_body_of_another_type_is_415(client, ada, key, content_type, body):
    before = snapshot()

    response = send(
        client,
        "POST",
        f"{API}/members/add-membership",
        query=f"email={EMAIL}&membership_id={SILVER}",
        body=body,
        content_type=content_type,
        headers={"X-API-Key": key},
    )

    assert_error(response, 415, "unsupported_media_type")
    assert snapshot() == before


@pytest.mark.parametrize(
    "content_type",
    [
        "APPLICATION/JSON",
        "application/json; charset=UTF-8",
        "Application/Json;charset=utf-8",
    ],
)
def test_json_content_types_match_in_any_case_and_with_parameters(
    client, known, key, content_type
):
    response = send(
        client,
        "POST",
        f"{API}/members",
        body=json.dumps({"email": EMAIL, "memberships": [GOLD]}),
        content_type=content_type,
        headers={"X-API-Key": key},
    )

    data = assert_member_answer(response, 201, EMAIL)
    assert data["memberships_added"] == [GOLD]


# Fields: 400 with data.field


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"first_name": "Ada"}, "missing_email", "email"),
        ({"email": "   "}, "missing_email", "email"),
        ({"email": "not-an-address"}, "invalid_email", "email"),
        ({"email": "ada@"}, "invalid_email", "email"),
        ({"email": "ada lovelace@example.com"}, "invalid_email", "email"),
        ({"email": "a" * 250 + "@example.com"}, "invalid_email", "email"),
        ({"email": "ada\x00@example.com"}, "invalid_email", "email"),
        ({"email": EMAIL, "first_name": "A" * 151}, "invalid_name", "first_name"),
        ({"email": EMAIL, "first_name": "Ad\x00a"}, "invalid_name", "first_name"),
        ({"email": EMAIL, "last_name": "L" * 151}, "invalid_name", "last_name"),
        ({"email": EMAIL, "notify": "maybe"}, "invalid_notify", "notify"),
        ({"email": EMAIL, "notify": "2"}, "invalid_notify", "notify"),
        (
            {"email": EMAIL, "memberships": "1,two"},
            "invalid_memberships",
            "memberships",
        ),
        ({"email": EMAIL, "memberships": [1.5]}, "invalid_memberships", "memberships"),
        (
            {"email": EMAIL, "memberships": {"id": 1}},
            "invalid_memberships",
            "memberships",
        ),
        ({"email": EMAIL, "memberships": "-1"}, "invalid_memberships", "memberships"),
        ({"email": EMAIL, "memberships": [True]}, "invalid_memberships", "memberships"),
    ],
)
def test_bad_fields_on_create_are_400_naming_the_field(
    client, ada, key, fields, code, field
):
    before = snapshot()

    response = send_fields(client, "/members", key, fields=fields)

    body = assert_error(response, 400, code)
    assert body["data"]["field"] == field
    assert snapshot() == before


def test_a_bad_membership_id_on_add_is_400_naming_membership_id(client, ada, key):
    before = snapshot()

    response = send_fields(
        client,
        "/members/add-membership",
        key,
        fields={"email": EMAIL, "membership_id": "gold"},
    )

    body = assert_error(response, 400, "invalid_memberships")
    assert body["data"]["field"] == "membership_id"
    assert snapshot() == before


@pytest.mark.parametrize(
    "body",
    ['{"email": "ada@example.com",', "[1, 2]", '"ada@example.com"', "[{}, {}]", "null"],
    ids=["truncated", "array-of-numbers", "string", "two-objects", "null"],
)
def test_json_that_is_not_one_object_is_400_invalid_json(client, ada, key, body):
    before = snapshot()

    response = send(
        client,
        "POST",
        f"{API}/members",
        body=body,
        content_type="application/json",
        headers={"X-API-Key": key},
    )

    assert_error(response, 400, "invalid_json")
    assert snapshot() == before


def test_a_name_of_150_characters_is_kept_whole(client, known, key):
    name = "N" * 150

    response = send_fields(
        client, "/members", key, fields={"email": EMAIL, "first_name": name}
    )

    data = assert_member_answer(response, 201, EMAIL)
    assert data["member"]["first_name"] == name


# References: 400 unknown_membership, 404 member_not_found


def test_unknown_memberships_on_create_are_400_listing_them_and_make_no_member(
    client, known, key
):
    before = snapshot()

    response = send_fields(
        client, "/members", key, fields={"email": EMAIL, "memberships": "1,999,998"}
    )

    body = assert_error(response, 400, "unknown_membership")
    assert sorted(body["data"]["ids"]) == [998, 999]
    assert all(type(pk) is int for pk in body["data"]["ids"])
    assert snapshot() == before


@pytest.mark.parametrize(
    "value", [2**63, [2**64 + 1], str(2**70), "99999999999999999999999"], ids=repr
)
def test_a_membership_id_too_large_for_the_database_is_400(client, ada, key, value):
    before = snapshot()

    response = send_fields(
        client,
        "/members/add-membership",
        key,
        fields={"email": EMAIL, "memberships": value},
    )

    assert response.status_code == 400, response.content
    assert response.json()["code"] in {"unknown_membership", "invalid_memberships"}
    assert snapshot() == before


def test_an_archived_membership_is_unknown(client, ada, key):
    Membership.objects.filter(pk=BRONZE).update(archived_at=timezone.now())
    before = snapshot()

    response = send_fields(
        client,
        "/members/add-membership",
        key,
        fields={"email": EMAIL, "memberships": [SILVER, BRONZE]},
    )

    body = assert_error(response, 400, "unknown_membership")
    assert body["data"]["ids"] == [BRONZE]
    assert snapshot() == before
    assert active_ids(EMAIL) == {GOLD}


def test_the_message_tells_an_archived_membership_from_a_missing_one(client, ada, key):
    Membership.objects.filter(pk=GOLD).update(archived_at=timezone.now())
    before = snapshot()

    response = send_fields(
        client,
        "/members/remove-membership",
        key,
        fields={"email": EMAIL, "memberships": [GOLD, 4242, 4243]},
    )

    body = assert_error(response, 400, "unknown_membership")
    assert body["data"]["ids"] == [GOLD, 4242, 4243]
    assert body["message"] == (
        "No membership has the ids 4242 and 4243: check the ids in the admin's "
        f"membership list; membership {GOLD} is archived: the API neither grants "
        "nor revokes an archived membership; unarchive it in the admin, or "
        "revoke it from the member's page there. Nothing was changed."
    )
    assert snapshot() == before
    assert active_ids(EMAIL) == {GOLD}


@pytest.mark.parametrize(
    "action", ["/members/add-membership", "/members/remove-membership"]
)
def test_unknown_memberships_on_add_or_remove_change_nothing(client, ada, key, action):
    Grant.objects.create(member=ada, membership_id=SILVER)
    before = snapshot()

    response = send_fields(
        client, action, key, fields={"email": EMAIL, "memberships": [SILVER, 4242]}
    )

    body = assert_error(response, 400, "unknown_membership")
    assert body["data"]["ids"] == [4242]
    assert snapshot() == before


@pytest.mark.parametrize(
    "action", ["/members/add-membership", "/members/remove-membership"]
)
def test_add_or_remove_for_an_unknown_email_is_404(client, ada, key, action):
    before = snapshot()

    response = send_fields(
        client,
        action,
        key,
        fields={"email": "Charles.Babbage@example.com", "membership_id": SILVER},
    )

    assert_error(response, 404, "member_not_found")
    assert snapshot() == before


# The order of the checks: key, method, size and type, fields, references


def test_the_key_is_checked_before_the_method(client, ada):
    response = send(
        client,
        "GET",
        f"{API}/members/add-membership",
        query=f"opm_api_key=mg_wrong&email={EMAIL}&membership_id=2",
        remote_addr=fresh_address(),
    )

    assert_error(response, 401, "invalid_api_key")


def test_the_missing_key_is_checked_before_the_method(client, ada):
    response = send(
        client,
        "GET",
        f"{API}/members/remove-membership",
        query=f"email={EMAIL}&membership_id=2",
        remote_addr=fresh_address(),
    )

    assert_error(response, 401, "missing_api_key")


def test_the_key_is_checked_before_the_body(client, ada):
    response = send(
        client,
        "POST",
        f"{API}/members",
        body=b"<xml/>" * (LIMIT // 4),
        content_type="application/xml",
        remote_addr=fresh_address(),
    )

    assert_error(response, 401, "missing_api_key")


def test_the_method_is_checked_before_the_body(client, ada, key):
    response = send(
        client,
        "GET",
        f"{API}/members/add-membership",
        body="<email>x</email>",
        content_type="application/xml",
        headers={"X-API-Key": key},
    )

    assert_error(response, 405, "method_not_allowed")


def test_the_size_is_checked_before_the_type(client, ada, key):
    response = send(
        client,
        "POST",
        f"{API}/members",
        body=b"<a>" + b"x" * LIMIT + b"</a>",
        content_type="application/xml",
        headers={"X-API-Key": key},
    )

    assert_error(response, 413, "payload_too_large")


def test_the_type_is_checked_before_the_fields(client, ada, key):
    response = send(
        client,
        "POST",
        f"{API}/members",
        body="<member/>",
        content_type="application/xml",
        headers={"X-API-Key": key},
    )

    assert_error(response, 415, "unsupported_media_type")


def test_the_fields_are_checked_before_the_member_is_looked_up(client, ada, key):
    response = send_fields(
        client,
        "/members/add-membership",
        key,
        fields={
            "email": "nobody@example.com",
            "membership_id": SILVER,
            "notify": "perhaps",
        },
    )

    body = assert_error(response, 400, "invalid_notify")
    assert body["data"]["field"] == "notify"


def test_the_fields_are_checked_before_the_memberships_are_looked_up(client, ada, key):
    response = send_fields(
        client, "/members", key, fields={"email": "nope", "memberships": [999]}
    )

    body = assert_error(response, 400, "invalid_email")
    assert body["data"]["field"] == "email"


# Idempotency


def test_a_repeated_idempotency_key_replays_the_answer_and_changes_nothing(
    client, known, key
):
    fields = {"email": EMAIL, "memberships": [GOLD, SILVER], "notify": "1"}
    first = send_fields(
        client, "/members", key, fields=fields, headers={"Idempotency-Key": "order-1"}
    )
    assert_member_answer(first, 201, EMAIL)
    assert first.headers.get("Idempotent-Replayed") is None
    before = snapshot()

    again = send_fields(
        client, "/members", key, fields=fields, headers={"Idempotency-Key": "order-1"}
    )

    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert snapshot() == before
    assert Delivery.objects.count() == 1


def test_an_idempotency_key_sent_with_another_request_is_422(client, known, key):
    send_fields(
        client,
        "/members",
        key,
        fields={"email": EMAIL},
        headers={"Idempotency-Key": "order-2"},
    )
    before = snapshot()

    response = send_fields(
        client,
        "/members",
        key,
        fields={"email": "someone.else@example.com"},
        headers={"Idempotency-Key": "order-2"},
    )

    assert_error(response, 422, "idempotency_key_reused")
    assert snapshot() == before


def test_the_same_request_without_the_key_is_applied_as_usual(client, known, key):
    fields = {"email": EMAIL, "memberships": [GOLD]}
    send_fields(
        client, "/members", key, fields=fields, headers={"Idempotency-Key": "order-3"}
    )

    response = send_fields(client, "/members", key, fields=fields)

    data = assert_member_answer(response, 200, EMAIL)
    assert data["created"] is False
    assert "Idempotent-Replayed" not in response.headers


# Rate limits: 429 with Retry-After


def test_a_source_failing_the_key_31_times_a_minute_is_429(client, ada):
    address = fresh_address()
    before = snapshot()

    answers = [
        send(
            client,
            "POST",
            f"{API}/members",
            query=f"opm_api_key=mg_guess{n}&email={EMAIL}",
            remote_addr=address,
        )
        for n in range(31)
    ]

    assert [a.status_code for a in answers[:30]] == [401] * 30
    assert_error(answers[30], 429, "rate_limited")
    assert int(answers[30].headers["Retry-After"]) > 0
    assert snapshot() == before


def test_a_good_key_is_not_limited_by_default(client, known, key):
    address = fresh_address()

    answers = [
        send_fields(
            client,
            "/members",
            key,
            fields={"email": f"member{n}@example.com"},
            remote_addr=address,
        )
        for n in range(40)
    ]

    assert [a.status_code for a in answers] == [201] * 40


def test_a_key_with_a_limit_gets_429_past_it_and_changes_nothing(client, known):
    _, key = ApiKey.create("limited", rate_limit_per_minute=2)
    for n in range(2):
        ok = send_fields(client, "/members", key, fields={"email": f"m{n}@example.com"})
        assert ok.status_code == 201
    before = snapshot()

    response = send_fields(client, "/members", key, fields={"email": EMAIL})

    assert_error(response, 429, "rate_limited")
    assert int(response.headers["Retry-After"]) > 0
    assert snapshot() == before


# The request log keeps no secret


def test_the_request_log_masks_every_key(client, ada, key):
    wrong = "mg_wrong-key-that-must-not-be-kept"
    send(client, "POST", f"{API}/members", query=f"opm_api_key={key}&email={EMAIL}")
    send(
        client,
        "POST",
        f"{ALIAS}/members/add-membership",
        body=json.dumps({"email": EMAIL, "membership_id": 2}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {key}", "X-OPM-API-KEY": key},
    )
    send(
        client,
        "POST",
        f"{API}/members",
        query=f"opm_api_key={wrong}",
        remote_addr=fresh_address(),
    )

    logs = list(RequestLog.objects.all())
    assert len(logs) == 3
    for entry in logs:
        stored = json.dumps(
            [entry.path, entry.query, entry.headers, entry.body, entry.response]
        )
        assert key not in stored
        assert wrong not in stored
