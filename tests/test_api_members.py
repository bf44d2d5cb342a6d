"""What each endpoint does, at both base URLs."""

import pytest
from django.utils import timezone

from membergate.api import actions
from membergate.api.models import RequestLog
from membergate.mail.models import Delivery
from membergate.members.models import Grant, Member, Membership
from tests.api_helpers import assert_error, snapshot
from tests.apiclient import BASES, Api


@pytest.fixture
def gold(make_membership):
    return make_membership("Gold")


@pytest.fixture
def silver(make_membership):
    return make_membership("Silver", duration="days", duration_count=30)


def held(email: str) -> list[int]:
    return sorted(
        Grant.objects.active()
        .filter(member__email=email)
        .values_list("membership_id", flat=True)
    )


@pytest.mark.parametrize("base", BASES)
def test_it_creates_a_member_with_memberships_and_a_welcome_email(
    api_key, base, gold, silver
):
    api = Api(api_key[1], base)
    answer = api.post(
        "/members",
        query=f"memberships={gold.pk},{silver.pk}&notify=1",
        data={"email": " Ada@Example.com ", "first_name": "Ada", "last_name": "L"},
    )

    assert answer.status_code == 201
    body = answer.json()
    assert body["status"] == 201
    data = body["data"]
    member = Member.objects.get(email="ada@example.com")
    assert data["created"] is True
    assert data["notified"] is True
    assert data["memberships_added"] == [gold.pk, silver.pk]
    assert data["memberships_removed"] == []
    assert data["member"]["id"] == member.pk
    assert (data["member"]["first_name"], data["member"]["last_name"]) == ("Ada", "L")
    shown = {m["id"]: m for m in data["member"]["memberships"]}
    assert shown[gold.pk]["title"] == "Gold"
    assert shown[gold.pk]["expires_at"] is None
    assert shown[silver.pk]["expires_at"] is not None
    assert held("ada@example.com") == [gold.pk, silver.pk]
    assert Delivery.objects.filter(member=member, kind="welcome").count() == 1
    assert not member.has_usable_password()


def test_creating_an_existing_member_grants_and_updates_names_only(api, gold, silver):
    api.post("/members", query=f"memberships={gold.pk}", data={"email": "a@x.org"})
    Member.objects.filter(email="a@x.org").update(first_name="Ada", last_name="L")

    answer = api.post(
        "/members",
        query=f"memberships={gold.pk},{silver.pk}&notify=1",
        data={"email": "A@X.org", "first_name": "", "last_name": "Lovelace"},
    )

    assert answer.status_code == 200
    data = answer.json()["data"]
    assert (data["created"], data["notified"]) == (False, False)
    assert data["memberships_added"] == [silver.pk]
    assert Member.objects.count() == 1
    member = Member.objects.get()
    assert (member.first_name, member.last_name) == ("Ada", "Lovelace")
    assert Delivery.objects.count() == 0
    assert Grant.objects.count() == 2


def test_without_notify_no_email_is_queued(api):
    answer = api.post("/members", json={"email": "quiet@x.org"})
    assert answer.json()["data"]["notified"] is False
    assert Delivery.objects.count() == 0


@pytest.mark.parametrize("base", BASES)
def test_add_and_remove_membership(api_key, base, member, gold, silver):
    api = Api(api_key[1], base)
    added = api.post(
        "/members/add-membership",
        query=f"membership_id={gold.pk}",
        data={"email": "ADA@example.com"},
    )
    assert added.status_code == 200
    assert added.json()["data"]["memberships_added"] == [gold.pk]
    assert held(member.email) == [gold.pk]

    again = api.post(
        "/members/add-membership/",
        json={"email": member.email, "membership_id": gold.pk},
    )
    assert (again.status_code, again.json()["data"]["memberships_added"]) == (200, [])
    assert Grant.objects.count() == 1

    removed = api.post(
        "/members/remove-membership",
        query=f"membership_id={gold.pk}&email={member.email}",
    )
    assert removed.status_code == 200
    assert removed.json()["data"]["memberships_removed"] == [gold.pk]
    assert held(member.email) == []
    grant = Grant.objects.get(membership=gold)
    assert (grant.granted_by_key, grant.revoked_by_key) == (api_key[0], api_key[0])
    assert grant.revoked_by_user is None

    not_held = api.post(
        "/members/remove-membership",
        query=f"memberships={gold.pk},{silver.pk}&email={member.email}",
    )
    assert not_held.status_code == 200
    assert not_held.json()["data"]["memberships_removed"] == []


def test_put_is_accepted_wherever_post_is(api, member, gold):
    for path in ("/members", "/members/add-membership", "/members/remove-membership"):
        answer = api.call(
            "PUT", path, json={"email": member.email, "membership_id": gold.pk}
        )
        assert answer.status_code == 200, (path, answer.json())


@pytest.mark.parametrize(
    "path", ["/members/add-membership", "/members/remove-membership"]
)
def test_get_on_a_change_says_to_use_post(api, member, gold, path):
    answer = api.get(path, query=f"email={member.email}&membership_id={gold.pk}")
    assert answer.status_code == 405
    body = answer.json()
    assert body["code"] == "method_not_allowed"
    assert "POST" in body["message"]
    assert body["data"]["status"] == 405
    assert "POST" in answer["Allow"]
    assert Grant.objects.count() == 0


def test_trailing_slashes_are_tolerated(api):
    assert api.post("/members/", json={"email": "s@x.org"}).status_code == 201
    assert api.get("/members/").status_code == 200
    assert api.get("/memberships/").status_code == 200


def test_the_membership_list(api, gold, silver, member):
    api.post(
        "/members/add-membership",
        json={"email": member.email, "memberships": [gold.pk]},
    )

    answer = api.get("/memberships")

    assert answer.status_code == 200
    listed = {m["id"]: m for m in answer.json()["data"]}
    assert listed[gold.pk]["title"] == "Gold"
    assert listed[gold.pk]["active_members"] == 1
    assert listed[gold.pk]["access"] == "lifetime"
    assert listed[silver.pk]["active_members"] == 0
    assert (listed[silver.pk]["duration"], listed[silver.pk]["duration_count"]) == (
        "days",
        30,
    )
    assert listed[silver.pk]["access"] == "30 days"


def test_the_member_list_is_paged(api, gold):
    for i in range(5):
        api.post("/members", json={"email": f"m{i}@x.org", "memberships": [gold.pk]})

    first = api.get("/members", query="per_page=2").json()["data"]
    last = api.get("/members", query="per_page=2&page=3").json()["data"]

    assert (first["total"], first["total_pages"], first["page"]) == (5, 3, 1)
    assert [m["email"] for m in first["members"]] == ["m0@x.org", "m1@x.org"]
    assert [m["email"] for m in last["members"]] == ["m4@x.org"]
    assert last["members"][0]["memberships"][0]["id"] == gold.pk
    assert api.get("/members").json()["data"]["per_page"] == 20


def test_the_member_list_finds_one_by_email(api, member):
    answer = api.get("/members", query="email=%20ADA@Example.COM")
    data = answer.json()["data"]
    assert data["total"] == 1
    assert data["members"][0]["id"] == member.pk


def test_one_member(api, member, gold):
    api.post(
        "/members/add-membership",
        json={"email": member.email, "membership_id": gold.pk},
    )

    answer = api.get(f"/members/{member.pk}")

    assert answer.status_code == 200
    data = answer.json()["data"]
    assert (data["email"], data["first_name"]) == (member.email, "Ada")
    assert [m["id"] for m in data["memberships"]] == [gold.pk]
    assert api.get("/members/999999").status_code == 404
    assert api.get("/members/abc").json()["code"] == "member_not_found"


@pytest.mark.parametrize(
    "action", ["/members", "/members/add-membership", "/members/remove-membership"]
)
def test_dry_run_answers_and_changes_nothing(api, member, gold, action):
    Grant.objects.create(member=member, membership=gold) if "remove" in action else None
    before = snapshot()

    answer = api.post(
        action,
        query="dry_run=1&notify=1",
        json={"email": "new@x.org" if action == "/members" else member.email,
              "membership_id": gold.pk},
    )  # fmt: skip

    assert answer.status_code in (200, 201)
    data = answer.json()["data"]
    assert data["dry_run"] is True
    changed = data["memberships_added"] or data["memberships_removed"]
    assert changed == [gold.pk]
    assert snapshot() == before
    assert RequestLog.objects.get().dry_run is True


@pytest.mark.parametrize(
    ("action", "changed", "first_name"),
    [
        ("/members", "memberships_added", "Augusta"),
        ("/members/add-membership", "memberships_added", "Ada"),
        ("/members/remove-membership", "memberships_removed", "Ada"),
    ],
)
def test_a_dry_run_on_an_existing_member_says_what_would_change(
    api, member, gold, silver, action, changed, first_name
):
    Grant.objects.create(member=member, membership=gold)
    before = snapshot()

    answer = api.post(
        action,
        query="dry_run=1&notify=1",
        json={
            "email": member.email,
            "first_name": "Augusta",
            "memberships": [gold.pk, silver.pk],
        },
    )

    assert answer.status_code == 200, answer.json()
    data = answer.json()["data"]
    assert (data["dry_run"], data["created"], data["notified"]) == (True, False, False)
    removing = "remove" in action
    assert data[changed] == [gold.pk if removing else silver.pk]
    shown = data["member"]
    assert (shown["id"], shown["first_name"]) == (member.pk, first_name)
    held_after = [] if removing else [gold.pk, silver.pk]
    assert [m["id"] for m in shown["memberships"]] == held_after
    assert snapshot() == before


def test_a_membership_archived_while_a_request_runs_is_refused(
    api, member, gold, silver, monkeypatch
):
    """Read as grantable, archived before the grant: the database refuses."""
    read_before = list(Membership.objects.filter(pk__in=[silver.pk, gold.pk]))
    Membership.objects.filter(pk=gold.pk).update(archived_at=timezone.now())
    monkeypatch.setattr(actions, "resolve_memberships", lambda ids: read_before)
    before = snapshot()

    answer = api.post(
        "/members/add-membership",
        json={"email": member.email, "membership_id": [silver.pk, gold.pk]},
    )

    body = assert_error(answer, 400, "unknown_membership")
    assert body["data"]["ids"] == [gold.pk]
    assert snapshot() == before


def test_the_key_is_taken_from_every_place(api_key, db):
    secret = api_key[1]
    api = Api(secret)
    ways = [
        {"query": f"opm_api_key={secret}", "key": False},
        {"headers": {"X-OPM-API-KEY": secret}, "key": False},
        {"headers": {"X-API-Key": secret}, "key": False},
        {"headers": {"Authorization": f"Bearer {secret}"}, "key": False},
    ]
    for way in ways:
        assert api.get("/memberships", **way).status_code == 200, way
    for body in (
        {"json": {"email": "j@x.org", "opm_api_key": secret}},
        {"data": {"email": "f@x.org", "opm_api_key": secret}},
        {"body": f"email=u@x.org&opm_api_key={secret}".encode(),
         "content_type": "application/x-www-form-urlencoded"},
    ):  # fmt: skip
        assert api.post("/members", key=False, **body).status_code == 201, body


def test_every_answer_has_a_request_id(api):
    given = api.get("/memberships", headers={"X-Request-ID": "zap-123.abc"})
    assert given["X-Request-ID"] == "zap-123.abc"
    made = api.get("/memberships", headers={"X-Request-ID": "bad id\twith spaces"})
    assert len(made["X-Request-ID"]) == 32
    refused = api.get("/memberships", key=False)
    assert refused["X-Request-ID"]
    ids = set(RequestLog.objects.values_list("request_id", flat=True))
    assert ids == {"zap-123.abc", made["X-Request-ID"], refused["X-Request-ID"]}


def test_an_unknown_url_under_the_api_is_a_logged_404(api):
    answer = api.post("/member", json={"email": "a@x.org"})
    assert (answer.status_code, answer.json()["code"]) == (404, "rest_no_route")
    assert Member.objects.count() == 0
    entry = RequestLog.objects.get()
    assert (entry.action, entry.status_code) == ("other", 404)
