"""How the incoming API reads each field, whatever shape a sender gives it.

Every spelling of ``notify``, every form of ``memberships``, names that
never blank a stored one, emails compared case-insensitively, grants that
stay as they are, and PUT wherever POST works.
"""

import json
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode

import pytest
from django.utils import timezone

from membergate.apikeys.models import ApiKey
from membergate.mail.models import Delivery
from membergate.members.models import Grant, Member, Membership
from tests.api_helpers import (
    ALIAS,
    API,
    BRONZE,
    GOLD,
    SILVER,
    active_ids,
    assert_member_answer,
    make_known_memberships,
    send,
    send_fields,
    snapshot,
)

EMAIL = "ada.lovelace@example.com"
BOUNDARY = "b0undary"


def multipart(pairs: list[tuple[str, str]]) -> str:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"'
        f"\r\n\r\n{value}\r\n"
        for name, value in pairs
    ]
    return "".join(parts) + f"--{BOUNDARY}--\r\n"


def encode(pairs: str, where: str) -> tuple[str, str, str | None]:
    """Query string, body and content type carrying url-encoded ``pairs``."""
    if where == "query":
        return pairs, "", None
    if where == "form":
        return "", pairs, "application/x-www-form-urlencoded"
    return "", multipart(parse_qsl(pairs)), f"multipart/form-data; boundary={BOUNDARY}"


@pytest.fixture
def known(db: None) -> None:
    make_known_memberships()


@pytest.fixture
def key(api_key: tuple[ApiKey, str]) -> str:
    return api_key[1]


@pytest.mark.parametrize(
    ("value", "notified"),
    [
        ("1", True),
        ("0", False),
        ("true", True),
        ("FALSE", False),
        ("Yes", True),
        ("no", False),
        ("ON", True),
        ("off", False),
        ("", False),
        (True, True),
        (False, False),
        (1, True),
        (0, False),
    ],
)
def test_every_spelling_of_notify_is_understood(client, known, key, value, notified):
    response = send_fields(
        client, "/members", key, fields={"email": EMAIL, "notify": value}
    )

    data = assert_member_answer(response, 201, EMAIL)
    assert data["notified"] is notified
    assert Delivery.objects.count() == (1 if notified else 0)


def test_without_notify_no_email_is_sent(client, known, key):
    response = send_fields(client, "/members", key, fields={"email": EMAIL})

    assert assert_member_answer(response, 201, EMAIL)["notified"] is False
    assert not Delivery.objects.exists()


JSON_FORMS = [
    [1, 3],
    ["1", "3"],
    "1,3",
    " 1 , 3 ,",
    "1,3,",
]


@pytest.mark.parametrize("value", JSON_FORMS, ids=repr)
def test_memberships_in_json_take_every_listed_form(client, known, key, value):
    response = send_fields(
        client, "/members", key, fields={"email": EMAIL, "memberships": value}
    )

    data = assert_member_answer(response, 201, EMAIL)
    assert sorted(data["memberships_added"]) == [GOLD, BRONZE]
    assert active_ids(EMAIL) == {GOLD, BRONZE}


@pytest.mark.parametrize("value", [2, "2", [2], ["2"]], ids=repr)
def test_a_single_membership_id_is_one_id(client, known, key, value):
    response = send_fields(
        client, "/members", key, fields={"email": EMAIL, "memberships": value}
    )

    assert assert_member_answer(response, 201, EMAIL)["memberships_added"] == [SILVER]


FORM_FORMS = [
    "memberships=1,3",
    "memberships=1%2C%203%2C",
    "memberships=1&memberships=3",
    "memberships%5B%5D=1&memberships%5B%5D=3",
    "memberships%5B0%5D=1&memberships%5B1%5D=3",
    "memberships[]=1&memberships[]=3",
]


@pytest.mark.parametrize("encoded", FORM_FORMS)
@pytest.mark.parametrize("where", ["query", "form", "multipart"])
def test_memberships_as_keys_take_every_listed_form(client, known, key, encoded, where):
    query, body, content_type = encode(
        f"email=ada.lovelace%40example.com&{encoded}", where
    )

    response = send(
        client,
        "POST",
        f"{ALIAS}/members",
        query=query,
        body=body,
        content_type=content_type,
        headers={"X-API-Key": key},
    )

    data = assert_member_answer(response, 201, EMAIL)
    assert sorted(data["memberships_added"]) == [GOLD, BRONZE]


def test_the_body_wins_field_by_field_over_the_query(client, known, key):
    response = send(
        client,
        "POST",
        f"{API}/members",
        query="memberships=2&first_name=Query&last_name=Lovelace&notify=1",
        body=json.dumps({"email": EMAIL, "first_name": "Ada", "memberships": "1,3"}),
        content_type="application/json",
        headers={"X-API-Key": key},
    )

    data = assert_member_answer(response, 201, EMAIL)
    member = data["member"]
    assert (member["first_name"], member["last_name"]) == ("Ada", "Lovelace")
    assert sorted(data["memberships_added"]) == [GOLD, BRONZE]
    assert data["notified"] is True


def test_an_existing_email_in_any_case_updates_only_given_names(client, known, key):
    Member.objects.create_user(EMAIL, first_name="Ada", last_name="Byron")

    response = send_fields(
        client,
        "/members",
        key,
        fields={
            "email": "  ADA.Lovelace@Example.COM",
            "first_name": "",
            "last_name": " Lovelace ",
            "notify": "1",
        },
    )

    data = assert_member_answer(response, 200, EMAIL)
    assert data["created"] is False
    assert data["notified"] is False
    member = Member.objects.get(email=EMAIL)
    assert (member.first_name, member.last_name) == ("Ada", "Lovelace")
    assert Member.objects.filter(is_staff=False).count() == 1
    assert not Delivery.objects.exists()


def test_granting_an_active_membership_again_leaves_its_grant_as_it_was(
    client, known, key
):
    month = Membership.objects.create(
        title="Monthly", duration=Membership.Duration.DAYS, duration_count=30
    )
    first = send_fields(
        client, "/members", key, fields={"email": EMAIL, "memberships": [month.pk]}
    )
    held = assert_member_answer(first, 201, EMAIL)["member"]["memberships"]
    assert held[0]["expires_at"] is not None
    before = snapshot()

    again = send_fields(
        client,
        "/members/add-membership",
        key,
        fields={"email": EMAIL, "membership_id": month.pk},
    )

    data = assert_member_answer(again, 200, EMAIL)
    assert data["memberships_added"] == []
    assert data["member"]["memberships"] == held
    assert snapshot() == before


def test_an_expired_membership_is_granted_anew(client, known, key):
    member = Member.objects.create_user(EMAIL)
    long_ago = timezone.now() - timedelta(days=60)
    Grant.objects.create(
        member=member,
        membership_id=GOLD,
        granted_at=long_ago,
        expires_at=long_ago + timedelta(days=30),
    )

    response = send_fields(
        client,
        "/members/add-membership",
        key,
        fields={"email": EMAIL, "membership_id": GOLD},
    )

    data = assert_member_answer(response, 200, EMAIL)
    assert data["memberships_added"] == [GOLD]
    assert active_ids(EMAIL) == {GOLD}
    assert Grant.objects.open().filter(member=member, membership_id=GOLD).count() == 1


def test_removing_an_expired_membership_changes_nothing(client, known, key):
    member = Member.objects.create_user(EMAIL)
    long_ago = timezone.now() - timedelta(days=60)
    Grant.objects.create(
        member=member,
        membership_id=GOLD,
        granted_at=long_ago,
        expires_at=long_ago + timedelta(days=30),
    )
    before = snapshot()

    response = send_fields(
        client,
        "/members/remove-membership",
        key,
        fields={"email": EMAIL, "membership_id": GOLD},
    )

    assert assert_member_answer(response, 200, EMAIL)["memberships_removed"] == []
    assert snapshot() == before


@pytest.mark.parametrize(
    ("action", "held", "fields", "status"),
    [
        ("/members", None, {"memberships": "1"}, 201),
        ("/members/add-membership", {GOLD}, {"membership_id": "2"}, 200),
        ("/members/remove-membership", {GOLD}, {"membership_id": "1"}, 200),
    ],
)
def test_put_works_wherever_post_does(client, known, key, action, held, fields, status):
    if held is not None:
        member = Member.objects.create_user(EMAIL)
        for pk in held:
            Grant.objects.create(member=member, membership_id=pk)

    response = send_fields(
        client, action, key, method="PUT", fields={"email": EMAIL, **fields}
    )

    assert_member_answer(response, status, EMAIL)


def test_a_json_body_without_a_content_type_is_read_as_json(client, known, key):
    response = send(
        client,
        "POST",
        f"{API}/members",
        body=json.dumps({"email": EMAIL, "memberships": [SILVER]}),
        headers={"X-API-Key": key},
    )

    data = assert_member_answer(response, 201, EMAIL)
    assert data["memberships_added"] == [SILVER]


def test_members_are_found_by_email_normalized_like_any_email(client, known, key):
    send_fields(client, "/members", key, fields={"email": EMAIL, "memberships": "1"})

    response = send(
        client,
        "GET",
        f"{API}/members",
        query="email=%20Ada.LOVELACE%40example.com%20",
        headers={"X-API-Key": key},
    )

    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert data["total"] == 1
    assert [m["email"] for m in data["members"]] == [EMAIL]
    assert [m["id"] for m in data["members"][0]["memberships"]] == [GOLD]


@pytest.mark.parametrize("where", ["json", "form", "query", "multipart"])
def test_accented_names_arrive_whole_in_every_encoding(client, known, key, where):
    first, last = "Zoë", "Ñúñez-Çelik"
    encoded = urlencode({"email": EMAIL, "first_name": first, "last_name": last})
    content_type: str | None
    if where == "json":
        body = json.dumps({"email": EMAIL, "first_name": first, "last_name": last})
        query, content_type = "", "application/json"
    else:
        query, body, content_type = encode(encoded, where)

    response = send(
        client,
        "POST",
        f"{API}/members",
        query=query,
        body=body,
        content_type=content_type,
        headers={"X-API-Key": key},
    )

    member = assert_member_answer(response, 201, EMAIL)["member"]
    assert (member["first_name"], member["last_name"]) == (first, last)
    stored = Member.objects.get(email=EMAIL)
    assert (stored.first_name, stored.last_name) == (first, last)


def test_a_multipart_body_with_a_file_still_gives_its_fields(client, known, key):
    # Webhooks by Zapier sends multipart when its File field is set.
    body = multipart([("email", EMAIL), ("memberships", "1,3")])
    body = body.removesuffix(f"--{BOUNDARY}--\r\n") + (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="file"; filename="receipt.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n%PDF-1.4 fake\r\n"
        f"--{BOUNDARY}--\r\n"
    )

    response = send(
        client,
        "POST",
        f"{ALIAS}/members",
        body=body,
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        headers={"X-API-Key": key},
    )

    data = assert_member_answer(response, 201, EMAIL)
    assert sorted(data["memberships_added"]) == [GOLD, BRONZE]
