import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from membergate.members.models import Membership
from membergate.members.services import Actor, grant_memberships

CHANGELIST = reverse("admin:members_membership_changelist")


def test_it_lists_ids_first_with_active_member_counts(
    admin_client, make_membership, member, django_assert_max_num_queries
):
    gold, silver = make_membership("Gold"), make_membership("Silver")
    grant_memberships(member, [gold], Actor())

    with django_assert_max_num_queries(8):
        page = admin_client.get(CHANGELIST)

    assert page.status_code == 200
    rows = {m.pk: m.active_members for m in page.context["cl"].result_list}
    assert rows == {gold.pk: 1, silver.pk: 0}
    header = page.content.decode()
    assert header.index("column-id") < header.index("column-title")


def test_counting_takes_one_query_whatever_the_number_of_memberships(
    admin_client, make_membership, member
):
    grant_memberships(member, [make_membership("Gold")], Actor())
    with CaptureQueriesContext(connection) as few:
        admin_client.get(CHANGELIST)
    grant_memberships(
        member, [make_membership(f"Tier {i}") for i in range(10)], Actor()
    )
    with CaptureQueriesContext(connection) as many:
        page = admin_client.get(CHANGELIST)

    assert len(page.context["cl"].result_list) == 11
    assert len(many.captured_queries) == len(few.captured_queries)


def test_it_creates_a_membership_with_a_counted_duration(admin_client):
    answer = admin_client.post(
        reverse("admin:members_membership_add"),
        {"title": "Trial", "duration": "days", "duration_count": "7", "ends_at": ""},
    )
    assert answer.status_code == 302
    trial = Membership.objects.get(title="Trial")
    assert trial.describe_duration() == "7 days"


def test_a_counted_duration_without_a_count_gets_a_clear_error(admin_client):
    answer = admin_client.post(
        reverse("admin:members_membership_add"),
        {"title": "Trial", "duration": "months", "duration_count": "", "ends_at": ""},
    )
    assert answer.status_code == 200
    assert "Say how many months the access lasts" in answer.content.decode()
    assert not Membership.objects.exists()


def test_deleting_a_granted_membership_is_refused(
    admin_client, make_membership, member
):
    gold = make_membership("Gold")
    grant_memberships(member, [gold], Actor())

    answer = admin_client.post(
        reverse("admin:members_membership_delete", args=[gold.pk]),
        {"post": "yes"},
        follow=True,
    )

    assert Membership.objects.filter(pk=gold.pk).exists()
    assert "cannot be deleted" in answer.content.decode()
    assert "Archive it instead" in answer.content.decode()


def test_a_membership_never_granted_can_be_deleted(admin_client, make_membership):
    unused = make_membership("Unused")
    admin_client.post(
        reverse("admin:members_membership_delete", args=[unused.pk]), {"post": "yes"}
    )
    assert not Membership.objects.filter(pk=unused.pk).exists()


def test_archive_and_unarchive_actions(admin_client, make_membership, member):
    gold = make_membership("Gold")
    grant_memberships(member, [gold], Actor())

    admin_client.post(CHANGELIST, {"action": "archive", "_selected_action": [gold.pk]})
    gold.refresh_from_db()
    assert gold.is_archived
    assert not Membership.objects.grantable().filter(pk=gold.pk).exists()

    admin_client.post(
        CHANGELIST, {"action": "unarchive", "_selected_action": [gold.pk]}
    )
    gold.refresh_from_db()
    assert not gold.is_archived


def test_bulk_delete_is_not_offered(admin_client, make_membership):
    make_membership("Gold")
    page = admin_client.get(CHANGELIST)
    assert "delete_selected" not in page.content.decode()
    assert 'value="archive"' in page.content.decode()


@pytest.mark.parametrize("archived", [True, False])
def test_the_list_says_which_are_archived(admin_client, make_membership, archived):
    make_membership("Gold", archived_at=timezone.now() if archived else None)
    page = admin_client.get(CHANGELIST).content.decode()
    assert ("archived" if archived else "on sale") in page


def test_a_membership_is_archived_from_its_own_page(admin_client, make_membership):
    gold = make_membership("Gold")
    change = reverse("admin:members_membership_change", args=[gold.pk])
    assert 'value="archive"' in admin_client.get(change).content.decode()

    admin_client.post(
        change, {"CHANGE_FORM-action": "archive", "_selected_action": [gold.pk]}
    )

    gold.refresh_from_db()
    assert gold.is_archived
