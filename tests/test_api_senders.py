"""Requests as Zapier, Make, Pabbly Connect and n8n really send them.

Each file in fixtures/senders/ is one request: method, path, query string,
headers and the raw body, as the tool puts them on the wire. Whichever way
it encodes the fields, the same member must come out.
"""

import pytest

from membergate.mail.models import Delivery
from membergate.members.models import Grant, Member
from tests.api_helpers import (
    ADA_EMAIL,
    ADA_FIRST,
    ADA_LAST,
    BASES,
    BRONZE,
    GOLD,
    KEY_PLACEHOLDER,
    SILVER,
    active_ids,
    assert_member_answer,
    make_known_memberships,
    sender_requests,
)

REQUESTS = sender_requests()

# Where each action starts from, so that all of them end at the same member:
# Ada Lovelace holding Gold and Bronze.
HELD_BEFORE = {"create": None, "add": {GOLD}, "remove": {GOLD, SILVER, BRONZE}}
EXPECTED = {GOLD, BRONZE}
CHANGED = {
    "create": ({GOLD, BRONZE}, set()),
    "add": ({BRONZE}, set()),
    "remove": (set(), {SILVER}),
}


@pytest.fixture
def known(db: None) -> None:
    make_known_memberships()


def given_member_holding(held: set[int]) -> None:
    member = Member.objects.create_user(
        ADA_EMAIL, first_name=ADA_FIRST, last_name=ADA_LAST
    )
    for pk in held:
        Grant.objects.create(member=member, membership_id=pk)


@pytest.mark.parametrize("sent", REQUESTS, ids=[r.name for r in REQUESTS])
def test_every_encoding_gives_the_same_member(client, api_key, known, sent):
    _, key = api_key
    held = HELD_BEFORE[sent.action]
    if held is not None:
        given_member_holding(held)

    response = sent.send(client, key)

    status = 201 if sent.action == "create" else 200
    data = assert_member_answer(response, status, ADA_EMAIL)
    assert data["created"] is (sent.action == "create")
    member = data["member"]
    assert (member["first_name"], member["last_name"]) == (ADA_FIRST, ADA_LAST)
    assert {held["id"] for held in member["memberships"]} == EXPECTED
    added, removed = CHANGED[sent.action]
    assert set(data["memberships_added"]) == added
    assert set(data["memberships_removed"]) == removed
    assert data["notified"] is sent.notified

    stored = Member.objects.filter(is_staff=False)
    assert list(stored.values_list("email", "first_name", "last_name")) == [
        (ADA_EMAIL, ADA_FIRST, ADA_LAST)
    ]
    assert active_ids(ADA_EMAIL) == EXPECTED
    welcomes = Delivery.objects.filter(kind=Delivery.Kind.WELCOME).count()
    assert welcomes == (1 if sent.notified else 0)


def test_each_tool_has_its_json_form_and_query_only_requests():
    kinds: dict[str, set[str]] = {}
    for sent in REQUESTS:
        content_type = next(
            (v for k, v in sent.headers.items() if k.lower() == "content-type"), ""
        )
        if not sent.body or sent.body == "{}":
            kind = "query"
        elif "json" in content_type or sent.body.lstrip().startswith(("{", "[")):
            kind = "json"
        else:
            kind = "form"
        kinds.setdefault(sent.sender, set()).add(kind)

    assert kinds == {
        tool: {"json", "form", "query"} for tool in ("zapier", "make", "pabbly", "n8n")
    }


def test_every_request_file_is_complete_and_carries_the_key_placeholder():
    for sent in REQUESTS:
        assert sent.action in HELD_BEFORE, sent.name
        assert sent.method in {"POST", "PUT"}, sent.name
        assert sent.path.startswith(BASES), sent.name
        assert any(k.lower() == "user-agent" for k in sent.headers), sent.name
        in_query = KEY_PLACEHOLDER in sent.query
        in_headers = any(KEY_PLACEHOLDER in v for v in sent.headers.values())
        assert in_query or in_headers, sent.name
        assert sent.description, sent.name


def test_the_files_cover_both_base_urls_and_every_action():
    assert {s.path.startswith("/wp-json/") for s in REQUESTS} == {True, False}
    assert {s.action for s in REQUESTS} == set(HELD_BEFORE)
