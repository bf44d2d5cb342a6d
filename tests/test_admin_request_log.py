from datetime import timedelta
from typing import Any

from django.urls import reverse
from django.utils import timezone

from membergate.api.admin import ADVICE
from membergate.api.models import RequestLog

CHANGELIST = reverse("admin:api_requestlog_changelist")

CONTRACT_ERRORS = [
    "missing_email",
    "invalid_email",
    "invalid_name",
    "invalid_notify",
    "invalid_memberships",
    "invalid_json",
    "unknown_membership",
    "missing_api_key",
    "invalid_api_key",
    "member_not_found",
    "method_not_allowed",
    "payload_too_large",
    "unsupported_media_type",
    "idempotency_key_reused",
    "rate_limited",
]


def log(**fields: Any) -> RequestLog:
    values: dict[str, Any] = {
        "action": RequestLog.Action.ADD_MEMBERSHIP,
        "method": "POST",
        "path": "/api/v1/members/add-membership",
        "query": "opm_api_key=***&membership_id=7",
        "headers": {"Content-Type": "application/json", "X-Api-Key": "***"},
        "content_type": "application/json",
        "body": '{"email": "ada@example.com"}',
        "email": "ada@example.com",
        "key_name": "zapier",
        "status_code": 200,
        "response": {"status": 200, "data": {"created": False}},
        "duration_ms": 12.5,
        **fields,
    }
    return RequestLog.objects.create(**values)


def listed(page: Any) -> list[int]:
    return [entry.pk for entry in page.context["cl"].result_list]


def test_every_contract_error_has_advice():
    assert sorted(ADVICE) == sorted(CONTRACT_ERRORS)


def test_it_lists_time_action_result_email_key_and_duration(admin_client, db):
    log(status_code=400, error_code="unknown_membership")
    text = admin_client.get(CHANGELIST).content.decode()
    for shown in (
        "Add membership",
        "400 unknown_membership",
        "ada@example.com",
        "zapier",
        "12 ms",
    ):
        assert shown in text


def test_it_filters_by_result_action_and_key(admin_client, api_key):
    key, _ = api_key
    good = log(api_key=key)
    bad = log(status_code=404, error_code="member_not_found")
    created = log(action=RequestLog.Action.CREATE_MEMBER, status_code=201)

    assert listed(admin_client.get(CHANGELIST, {"result": "failure"})) == [bad.pk]
    assert set(listed(admin_client.get(CHANGELIST, {"result": "success"}))) == {
        good.pk,
        created.pk,
    }
    assert listed(admin_client.get(CHANGELIST, {"action": "create_member"})) == [
        created.pk
    ]
    assert listed(admin_client.get(CHANGELIST, {"api_key__id__exact": key.pk})) == [
        good.pk
    ]


def test_it_searches_by_the_start_of_the_email(admin_client, db):
    ada = log()
    log(email="bob@example.com")
    assert listed(admin_client.get(CHANGELIST, {"q": "ADA@"})) == [ada.pk]


def test_the_date_hierarchy_narrows_to_a_day(admin_client, db):
    today = log()
    log(created_at=timezone.now() - timedelta(days=3))
    now = timezone.now()
    page = admin_client.get(
        CHANGELIST,
        {
            "created_at__year": now.year,
            "created_at__month": now.month,
            "created_at__day": now.day,
        },
    )
    assert listed(page) == [today.pk]


def test_the_detail_shows_the_masked_request_the_answer_and_advice(admin_client, db):
    entry = log(
        status_code=400,
        error_code="unknown_membership",
        response={"code": "unknown_membership", "data": {"status": 400, "ids": [7]}},
    )
    page = admin_client.get(reverse("admin:api_requestlog_change", args=[entry.pk]))
    text = page.content.decode()
    assert page.status_code == 200
    assert "opm_api_key=***&amp;membership_id=7" in text
    assert "&quot;email&quot;: &quot;ada@example.com&quot;" in text
    assert "&quot;ids&quot;: [" in text
    assert "check Memberships for the id" in text
    assert 'id="resend-form"' in text


def test_the_log_is_read_only(admin_client, db):
    entry = log()
    assert admin_client.get(reverse("admin:api_requestlog_add")).status_code == 403
    admin_client.post(
        reverse("admin:api_requestlog_change", args=[entry.pk]), {"email": "x@y.z"}
    )
    entry.refresh_from_db()
    assert entry.email == "ada@example.com"
    page = admin_client.get(reverse("admin:api_requestlog_change", args=[entry.pk]))
    assert 'id="resend-form"' not in page.content.decode()


def test_a_successful_request_cannot_be_resent(admin_client, db):
    entry = log()
    answer = admin_client.post(
        reverse("admin:api_requestlog_resend", args=[entry.pk]), follow=True
    )
    assert "Only a failed change to a member can be resent." in answer.content.decode()
    assert RequestLog.objects.count() == 1
    assert (
        admin_client.get(
            reverse("admin:api_requestlog_resend", args=[entry.pk])
        ).status_code
        == 405
    )


def test_resending_a_failed_request_after_fixing_it_succeeds(
    admin_client, admin_user, api_key, member, make_membership
):
    from membergate.members.services import active_grants

    key, _ = api_key
    gold = make_membership("Gold")
    entry = log(
        api_key=key,
        query=f"opm_api_key=***&membership_id={gold.pk}",
        email=member.email,
        body=f'{{"email": "{member.email}"}}',
        status_code=404,
        error_code="member_not_found",
    )

    answer = admin_client.post(
        reverse("admin:api_requestlog_resend", args=[entry.pk]), follow=True
    )

    assert "it succeeded" in answer.content.decode()
    (grant,) = active_grants(member)
    assert (grant.membership, grant.granted_by_user) == (gold, admin_user)
    assert RequestLog.objects.filter(resent_from=entry).exists()
