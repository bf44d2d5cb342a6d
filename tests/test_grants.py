from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from membergate.members.models import Grant, Membership
from membergate.members.services import (
    Actor,
    UnknownMemberships,
    active_grants,
    grant_memberships,
    resolve_memberships,
    revoke_memberships,
    upsert_member,
)

NOW = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)


def test_the_database_refuses_a_second_open_grant(member, make_membership):
    gold = make_membership("Gold")
    Grant.objects.create(member=member, membership=gold)
    with (
        pytest.raises(IntegrityError),
        transaction.atomic(),
        connection.cursor() as cur,
    ):
        cur.execute(
            "INSERT INTO members_grant (member_id, membership_id, granted_at)"
            " VALUES (%s, %s, CURRENT_TIMESTAMP)",
            [member.pk, gold.pk],
        )
    assert Grant.objects.count() == 1


def insert_grant(member, membership, revoked_at: str = "NULL") -> None:
    """Insert a grant past the ORM and the services, as any writer could."""
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO members_grant (member_id, membership_id, granted_at,"
            f" revoked_at) VALUES (%s, %s, CURRENT_TIMESTAMP, {revoked_at})",
            [member.pk, membership.pk],
        )


def test_the_database_refuses_an_open_grant_of_an_archived_membership(
    member, make_membership
):
    old = make_membership("Old", archived_at=timezone.now())
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_grant(member, old)
    assert not Grant.objects.exists()

    # History may still be written: a grant that is closed already.
    insert_grant(member, old, revoked_at="CURRENT_TIMESTAMP")
    assert Grant.objects.get().revoked_at is not None


def test_the_database_refuses_to_reopen_a_grant_of_an_archived_membership(
    member, make_membership
):
    gold, old = make_membership("Gold"), make_membership("Old")
    grant_memberships(member, [gold, old], Actor(), now=NOW)
    revoke_memberships(member, [old], Actor(), now=NOW + timedelta(days=1))
    Membership.objects.filter(pk=old.pk).update(archived_at=timezone.now())

    for change in (
        "UPDATE members_grant SET revoked_at = NULL WHERE membership_id = %s",
        "UPDATE members_grant SET membership_id = %s WHERE revoked_at IS NULL",
    ):
        with (
            pytest.raises(IntegrityError),
            transaction.atomic(),
            connection.cursor() as cur,
        ):
            cur.execute(change, [old.pk])
    assert [g.membership_id for g in Grant.objects.open()] == [gold.pk]


def test_archiving_leaves_the_grants_members_hold(member, make_membership):
    gold = make_membership("Gold")
    grant_memberships(member, [gold], Actor(), now=NOW)

    Membership.objects.filter(pk=gold.pk).update(archived_at=timezone.now())

    assert [g.membership_id for g in active_grants(member)] == [gold.pk]
    assert revoke_memberships(member, [gold], Actor()) == [gold.pk]


def test_granting_refuses_an_archived_membership(member, make_membership):
    gold = make_membership("Gold")
    old = make_membership("Old", archived_at=timezone.now())
    with pytest.raises(UnknownMemberships) as caught:
        grant_memberships(member, [gold, old], Actor(), now=NOW)
    assert caught.value.ids == [old.pk]
    assert not Grant.objects.exists()


def test_a_membership_archived_after_it_was_read_is_refused(member, make_membership):
    """The database catches what a stale membership would let through."""
    gold = make_membership("Gold")
    Membership.objects.filter(pk=gold.pk).update(archived_at=timezone.now())
    assert not gold.is_archived

    with pytest.raises(UnknownMemberships) as caught, transaction.atomic():
        grant_memberships(member, [gold], Actor(), now=NOW)

    assert caught.value.ids == [gold.pk]
    assert not Grant.objects.exists()


def test_a_revoked_grant_stays_as_history_beside_a_new_one(member, make_membership):
    gold = make_membership("Gold")
    grant_memberships(member, [gold], Actor(), now=NOW)
    revoke_memberships(member, [gold], Actor(), now=NOW + timedelta(days=1))
    grant_memberships(member, [gold], Actor(), now=NOW + timedelta(days=2))

    grants = list(Grant.objects.order_by("granted_at"))
    assert [(g.revoked_at is None) for g in grants] == [False, True]


def test_an_archived_membership_cannot_be_granted(member, make_membership):
    gold = make_membership("Gold", archived_at=timezone.now())
    silver = make_membership("Silver")
    with pytest.raises(UnknownMemberships) as caught:
        resolve_memberships([silver.pk, gold.pk, 999])
    assert caught.value.ids == [gold.pk, 999]


def test_granting_leaves_active_grants_as_they_are(api_key, member, make_membership):
    gold, silver = make_membership("Gold"), make_membership("Silver")
    key, _ = api_key
    assert grant_memberships(member, [gold], Actor(api_key=key), now=NOW) == [gold.pk]

    added = grant_memberships(
        member, [gold, silver], Actor(), now=NOW + timedelta(hours=1)
    )

    assert added == [silver.pk]
    first = Grant.objects.get(membership=gold)
    assert (first.granted_at, first.granted_by_key) == (NOW, key)


def test_an_expired_grant_is_closed_and_granted_afresh(member, make_membership):
    trial = make_membership("Trial", duration="days", duration_count=7)
    grant_memberships(member, [trial], Actor(), now=NOW)

    later = NOW + timedelta(days=8)
    assert active_grants(member, later) == []
    assert grant_memberships(member, [trial], Actor(), now=later) == [trial.pk]

    (current,) = active_grants(member, later)
    assert current.expires_at == later + timedelta(days=7)
    assert Grant.objects.filter(revoked_at=later).count() == 1


def test_revoking_reports_only_what_was_active(member, make_membership):
    gold, silver = make_membership("Gold"), make_membership("Silver")
    grant_memberships(member, [gold], Actor(), now=NOW)
    assert revoke_memberships(member, [gold, silver], Actor(), now=NOW) == [gold.pk]
    assert revoke_memberships(member, [gold], Actor(), now=NOW) == []


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"duration": "lifetime"}, None),
        (
            {"duration": "weeks", "duration_count": 2},
            datetime(2026, 2, 14, 12, tzinfo=UTC),
        ),
        (
            {"duration": "months", "duration_count": 1},
            datetime(2026, 2, 28, 12, tzinfo=UTC),
        ),
        (
            {"duration": "years", "duration_count": 1},
            datetime(2027, 1, 31, 12, tzinfo=UTC),
        ),
        (
            {"duration": "until", "ends_at": datetime(2026, 6, 30, tzinfo=UTC)},
            datetime(2026, 6, 30, tzinfo=UTC),
        ),
    ],
)
def test_access_durations(fields, expected):
    assert Membership(title="x", **fields).expires_at_for(NOW) == expected


def test_a_grant_after_a_fixed_end_date_gives_no_access(member, make_membership):
    summer = make_membership(
        "Summer", duration="until", ends_at=datetime(2026, 1, 1, tzinfo=UTC)
    )

    grant_memberships(member, [summer], Actor(), now=NOW)

    grant = Grant.objects.get()
    assert (grant.granted_at, grant.expires_at) == (NOW, summer.ends_at)
    assert not grant.is_active(NOW)
    assert active_grants(member, NOW) == []


def test_the_database_refuses_a_counted_duration_without_a_count(db):
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(title="Broken", duration="months")


def test_upsert_finds_the_member_and_keeps_names_it_is_not_given(member):
    found, created = upsert_member(member.email, first_name="", last_name="Lovelace")
    assert not created
    found.refresh_from_db()
    assert (found.first_name, found.last_name) == ("Ada", "Lovelace")


def test_upsert_creates_a_member_without_a_usable_password(db):
    created_member, created = upsert_member("new@example.com", "New", "")
    assert created
    assert not created_member.has_usable_password()


def test_revoking_an_expired_grant_changes_nothing(member, make_membership):
    trial = make_membership("Trial", duration="days", duration_count=7)
    grant_memberships(member, [trial], Actor(), now=NOW)

    later = NOW + timedelta(days=8)
    assert revoke_memberships(member, [trial], Actor(), now=later) == []
    assert Grant.objects.get().revoked_at is None
