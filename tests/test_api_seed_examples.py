"""The OptimizeMentor guide's own webhook URLs, sent as the guide writes them.

Someone moving over changes only the host, so each URL must work on both
base URLs: POST, everything in the query string, memberships 1, 2 and 3.
The guide leaves the email to the tool's data; here it is added to the
query string like every other field.
"""

from urllib.parse import quote

import pytest

from membergate.mail.models import Delivery
from membergate.members.models import Member
from tests.api_helpers import (
    BASES,
    active_ids,
    assert_error,
    assert_member_answer,
    make_known_memberships,
    send,
    snapshot,
)

EMAIL = "grace.hopper@example.com"


@pytest.fixture
def known(db: None) -> None:
    make_known_memberships()


def guide_url(base: str, url: str, key: str, email: str = EMAIL) -> tuple[str, str]:
    """Split one of the guide's URLs into path and query, key and email in."""
    url = url.replace("http://YOUR-BASE-URL", base).replace("YOUR_API_KEY", key)
    path, _, query = url.partition("?")
    return path, f"{query}&email={quote(email)}"


def post_guide_url(client, base: str, url: str, key: str, email: str = EMAIL):
    path, query = guide_url(base, url, key, email)
    return send(client, "POST", path, query=query)


CREATE = (
    "http://YOUR-BASE-URL/members?memberships=1,2,3&opm_api_key=YOUR_API_KEY&notify=1"
)
CREATE_QUIET = "http://YOUR-BASE-URL/members?memberships=1,2,3&opm_api_key=YOUR_API_KEY"
ADD = "http://YOUR-BASE-URL/members/add-membership?membership_id=3&opm_api_key=YOUR_API_KEY"
REMOVE = "http://YOUR-BASE-URL/members/remove-membership?membership_id=3&opm_api_key=YOUR_API_KEY"


@pytest.mark.parametrize("base", BASES)
def test_the_guides_create_url_makes_the_member_and_sends_the_welcome(
    client, api_key, known, base
):
    _, key = api_key

    response = post_guide_url(client, base, CREATE, key)

    data = assert_member_answer(response, 201, EMAIL)
    assert data["created"] is True
    assert data["notified"] is True
    assert set(data["memberships_added"]) == {1, 2, 3}
    assert {m["id"] for m in data["member"]["memberships"]} == {1, 2, 3}
    titles = {m["id"]: m["title"] for m in data["member"]["memberships"]}
    assert titles == {1: "Gold", 2: "Silver", 3: "Bronze"}
    assert active_ids(EMAIL) == {1, 2, 3}
    welcome = Delivery.objects.get(kind=Delivery.Kind.WELCOME)
    assert welcome.to_email == EMAIL


@pytest.mark.parametrize("base", BASES)
def test_the_guides_create_url_without_notify_sends_no_email(
    client, api_key, known, base
):
    _, key = api_key

    response = post_guide_url(client, base, CREATE_QUIET, key)

    data = assert_member_answer(response, 201, EMAIL)
    assert data["notified"] is False
    assert not Delivery.objects.exists()


@pytest.mark.parametrize("base", BASES)
def test_the_guides_create_url_again_grants_nothing_twice_and_answers_200(
    client, api_key, known, base
):
    _, key = api_key
    post_guide_url(client, base, CREATE, key)

    response = post_guide_url(
        client, base, CREATE, key, email="Grace.Hopper@Example.com"
    )

    data = assert_member_answer(response, 200, EMAIL)
    assert data["created"] is False
    assert data["memberships_added"] == []
    assert data["notified"] is False
    assert Member.objects.filter(is_staff=False).count() == 1
    assert Delivery.objects.count() == 1


@pytest.mark.parametrize("base", BASES)
def test_the_guides_remove_then_add_urls_take_and_give_membership_3(
    client, api_key, known, base
):
    _, key = api_key
    post_guide_url(client, base, CREATE_QUIET, key)

    removed = post_guide_url(client, base, REMOVE, key)

    data = assert_member_answer(removed, 200, EMAIL)
    assert data["created"] is False
    assert data["memberships_removed"] == [3]
    assert {m["id"] for m in data["member"]["memberships"]} == {1, 2}
    assert active_ids(EMAIL) == {1, 2}

    added = post_guide_url(client, base, ADD, key)

    data = assert_member_answer(added, 200, EMAIL)
    assert data["memberships_added"] == [3]
    assert {m["id"] for m in data["member"]["memberships"]} == {1, 2, 3}
    assert active_ids(EMAIL) == {1, 2, 3}


@pytest.mark.parametrize("base", BASES)
def test_the_guides_add_and_remove_urls_repeated_change_nothing_more(
    client, api_key, known, base
):
    _, key = api_key
    post_guide_url(client, base, CREATE_QUIET, key)

    again = post_guide_url(client, base, ADD, key)
    data = assert_member_answer(again, 200, EMAIL)
    assert data["memberships_added"] == []

    post_guide_url(client, base, REMOVE, key)
    before = snapshot()
    once_more = post_guide_url(client, base, REMOVE, key)

    data = assert_member_answer(once_more, 200, EMAIL)
    assert data["memberships_removed"] == []
    assert snapshot() == before


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("url", [ADD, REMOVE])
def test_the_guides_add_and_remove_urls_for_an_unknown_email_are_404(
    client, api_key, known, base, url
):
    _, key = api_key
    before = snapshot()

    response = post_guide_url(client, base, url, key, email="nobody@example.com")

    assert_error(response, 404, "member_not_found")
    assert snapshot() == before


@pytest.mark.parametrize("base", BASES)
def test_the_guides_create_url_as_written_asks_for_the_email(
    client, api_key, known, base
):
    _, key = api_key
    path, _, query = (
        CREATE.replace("http://YOUR-BASE-URL", base)
        .replace("YOUR_API_KEY", key)
        .partition("?")
    )
    before = snapshot()

    response = send(client, "POST", path, query=query)

    body = assert_error(response, 400, "missing_email")
    assert body["data"]["field"] == "email"
    assert snapshot() == before
