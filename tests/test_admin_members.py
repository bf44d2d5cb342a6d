from typing import Any

from django.contrib.admin.models import LogEntry
from django.urls import reverse

from membergate.apikeys.models import ApiKey
from membergate.members.models import Grant, Member
from membergate.members.services import (
    Actor,
    active_grants,
    grant_memberships,
    revoke_memberships,
)

CHANGELIST = reverse("admin:members_member_changelist")


def change_url(member: Member) -> str:
    return reverse("admin:members_member_change", args=[member.pk])


def memberships_url(member: Member) -> str:
    return reverse("admin:members_member_memberships", args=[member.pk])


def emails(page: Any) -> list[str]:
    return [m.email for m in page.context["cl"].result_list]


def test_it_lists_members_with_their_memberships(admin_client, member, make_membership):
    grant_memberships(member, [make_membership("Gold")], Actor())
    page = admin_client.get(CHANGELIST)
    assert page.status_code == 200
    assert "ada@example.com" in emails(page)
    assert "Gold" in page.content.decode()


def test_it_finds_members_by_the_start_of_their_email(admin_client, db):
    for email in ("ada@example.com", "adam@example.com", "bob@example.com"):
        Member.objects.create_user(email)
    assert sorted(emails(admin_client.get(CHANGELIST, {"q": "AdA"}))) == [
        "ada@example.com",
        "adam@example.com",
    ]
    assert emails(admin_client.get(CHANGELIST, {"q": "ada@"})) == ["ada@example.com"]
    assert emails(admin_client.get(CHANGELIST, {"q": "example.com"})) == []


def test_it_finds_members_by_name(admin_client, db):
    Member.objects.create_user("a@x.org", first_name="Ada", last_name="Lovelace")
    Member.objects.create_user("b@x.org", first_name="Ada", last_name="Byron")
    Member.objects.create_user("c@x.org", first_name="Charles", last_name="Babbage")
    assert sorted(emails(admin_client.get(CHANGELIST, {"q": "ada"}))) == [
        "a@x.org",
        "b@x.org",
    ]
    assert emails(admin_client.get(CHANGELIST, {"q": "babb"})) == ["c@x.org"]
    assert emails(admin_client.get(CHANGELIST, {"q": "Ada Love"})) == ["a@x.org"]


def test_names_are_searched_when_no_address_starts_with_the_term(admin_client, db):
    Member.objects.create_user("ada@x.org")
    Member.objects.create_user("lovelace@x.org", first_name="Ada")
    Member.objects.create_user("grace@x.org", first_name="Ada")
    assert emails(admin_client.get(CHANGELIST, {"q": "ada"})) == ["ada@x.org"]
    assert emails(admin_client.get(CHANGELIST, {"q": "lovelace"})) == ["lovelace@x.org"]


def test_it_filters_by_membership_and_status(admin_client, make_membership, db):
    gold, silver = make_membership("Gold"), make_membership("Silver")
    holder = Member.objects.create_user("gold@x.org")
    former = Member.objects.create_user("former@x.org")
    Member.objects.create_user("none@x.org")
    grant_memberships(holder, [gold], Actor())
    grant_memberships(former, [silver], Actor())
    revoke_memberships(former, [silver], Actor())

    assert emails(admin_client.get(CHANGELIST, {"holds": gold.pk})) == ["gold@x.org"]
    assert emails(admin_client.get(CHANGELIST, {"holds": silver.pk})) == []
    assert emails(admin_client.get(CHANGELIST, {"status": "active"})) == ["gold@x.org"]
    assert "former@x.org" in emails(admin_client.get(CHANGELIST, {"status": "none"}))
    assert "gold@x.org" not in emails(admin_client.get(CHANGELIST, {"status": "none"}))


def test_the_list_never_counts_the_whole_table(admin_client, member):
    page = admin_client.get(CHANGELIST)
    assert page.context["cl"].full_result_count is None


def test_a_members_page_shows_current_memberships_and_the_full_history(
    admin_client, member, make_membership, api_key
):
    key, _ = api_key
    gold, silver = make_membership("Gold"), make_membership("Silver")
    grant_memberships(member, [gold, silver], Actor(api_key=key))
    revoke_memberships(member, [silver], Actor())

    page = admin_client.get(change_url(member))

    assert page.status_code == 200
    assert [g.membership for g in page.context["current_grants"]] == [gold]
    text = page.content.decode()
    assert "grant history" in text.lower()
    assert "API key zapier" in text
    assert "command line" in text
    assert "revoked" in text


def test_granting_from_the_members_page_is_recorded_as_the_admin(
    admin_client, admin_user, member, make_membership
):
    gold = make_membership("Gold")

    answer = admin_client.post(
        memberships_url(member), {"action": "grant", "membership": [gold.pk]}
    )

    assert answer.status_code == 302
    (grant,) = active_grants(member)
    assert (grant.membership, grant.granted_by_user, grant.granted_by_key) == (
        gold,
        admin_user,
        None,
    )
    assert LogEntry.objects.filter(object_id=str(member.pk)).exists()


def test_revoking_from_the_members_page_is_recorded_as_the_admin(
    admin_client, admin_user, member, make_membership
):
    gold = make_membership("Gold")
    grant_memberships(member, [gold], Actor())

    admin_client.post(
        memberships_url(member), {"action": "revoke", "membership": [gold.pk]}
    )

    grant = Grant.objects.get(member=member)
    assert grant.revoked_at is not None
    assert grant.revoked_by_user == admin_user
    assert active_grants(member) == []


def test_granting_an_archived_membership_is_refused_and_changes_nothing(
    admin_client, member, make_membership
):
    from django.utils import timezone

    gold = make_membership("Gold")
    old = make_membership("Old", archived_at=timezone.now())

    answer = admin_client.post(
        memberships_url(member),
        {"action": "grant", "membership": [gold.pk, old.pk]},
        follow=True,
    )

    assert f"membership(s) {old.pk} do not exist or are archived" in (
        answer.content.decode()
    )
    assert not Grant.objects.exists()


def test_bad_membership_ids_get_a_clear_error(admin_client, member):
    answer = admin_client.post(
        memberships_url(member), {"action": "grant", "membership": ["x"]}, follow=True
    )
    assert "must be whole numbers" in answer.content.decode()
    assert admin_client.get(memberships_url(member)).status_code == 405


def test_an_admin_adds_a_member_with_a_normalized_address(admin_client):
    answer = admin_client.post(
        reverse("admin:members_member_add"),
        {
            "email": "  Grace@Example.COM ",
            "first_name": "Grace",
            "last_name": "",
            "usable_password": "false",
            "password1": "",
            "password2": "",
        },
    )
    assert answer.status_code == 302, answer.content.decode()
    assert Member.objects.filter(email="grace@example.com").exists()


def test_site_owners_stay_manageable(admin_client, admin_user):
    page = admin_client.get(CHANGELIST, {"is_staff__exact": "1"})
    assert emails(page) == [admin_user.email]
    assert admin_client.get(change_url(admin_user)).status_code == 200


def test_api_keys_are_made_on_the_api_settings_page(admin_client, db):
    answer = admin_client.get(reverse("admin:apikeys_apikey_add"))
    assert answer.status_code == 302
    assert answer["Location"].startswith(reverse("admin:api_settings"))
    assert not ApiKey.objects.exists()
