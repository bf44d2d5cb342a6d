"""Prepared statements store and read exactly what the ORM would."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction

from membergate.api.models import RequestLog
from membergate.apikeys.models import ApiKey
from membergate.core import rows
from membergate.members.models import Grant, Member, Membership

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_inserted_row_reads_back_through_the_orm_unchanged(db):
    key, _ = ApiKey.create("shop")
    when = datetime(2026, 5, 17, 9, 30, 15, 250000, tzinfo=UTC)
    entry = rows.insert(
        RequestLog(
            created_at=when,
            action=RequestLog.Action.CREATE_MEMBER,
            method="POST",
            path="/api/v1/members",
            headers={"content-type": "application/json", "é": ["x", 1]},
            source_ip="2001:db8::1",
            api_key=key,
            status_code=201,
            response={"member": {"id": 7, "email": "ada@example.com"}},
            duration_ms=1.25,
        )
    )

    stored = RequestLog.objects.get()
    assert entry.pk == stored.pk
    assert stored.created_at == when
    assert stored.headers == {"content-type": "application/json", "é": ["x", 1]}
    assert stored.response == {"member": {"id": 7, "email": "ada@example.com"}}
    assert stored.source_ip == "2001:db8::1"
    assert stored.api_key_id == key.pk
    assert stored.resent_from_id is None
    assert stored.dry_run is False


def test_a_selected_row_equals_the_orms(db):
    ends = datetime(2027, 1, 1, tzinfo=UTC)
    membership = Membership.objects.create(
        title="Course", duration=Membership.Duration.UNTIL, ends_at=ends
    )
    Membership.objects.create(title="Other")

    found = rows.select(Membership, "id = %s", [membership.pk])

    assert len(found) == 1
    assert found[0].pk == membership.pk
    assert found[0].ends_at == ends
    assert found[0].archived_at is None
    assert found[0].created_at == Membership.objects.get(pk=membership.pk).created_at
    assert not found[0]._state.adding


def test_a_taken_value_is_not_inserted_and_the_transaction_goes_on(db):
    Member.objects.create(email="ada@example.com")

    with transaction.atomic():
        taken = rows.insert_unless_taken(Member(email="ada@example.com"), "email")
        fresh = Member(email="bob@example.com", first_name="Bob")
        inserted = rows.insert_unless_taken(fresh, "email")

    assert (taken, inserted) == (False, True)
    assert Member.objects.get(pk=fresh.pk).first_name == "Bob"
    assert Member.objects.count() == 2


def test_several_rows_go_in_with_one_statement(db, django_assert_num_queries):
    member = Member.objects.create(email="ada@example.com")
    gold = Membership.objects.create(title="Gold")
    silver = Membership.objects.create(title="Silver")
    now = datetime(2026, 3, 1, tzinfo=UTC)
    grants = [
        Grant(member=member, membership=m, granted_at=now, expires_at=e)
        for m, e in ((gold, None), (silver, now + timedelta(days=30)))
    ]

    with django_assert_num_queries(1):
        rows.insert_all(grants)

    stored = {g.membership_id: g.expires_at for g in Grant.objects.all()}
    assert stored == {gold.pk: None, silver.pk: now + timedelta(days=30)}
