from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from membergate.api.models import RequestLog
from membergate.core.counting import EXACT_LIMIT, estimated_count
from membergate.mail.models import Delivery
from membergate.members.models import Member
from membergate.members.services import Actor, grant_memberships


def call(status: int, hours_ago: float = 1) -> RequestLog:
    return RequestLog.objects.create(
        created_at=timezone.now() - timedelta(hours=hours_ago),
        action=RequestLog.Action.CREATE_MEMBER,
        method="POST",
        path="/api/v1/members",
        status_code=status,
        duration_ms=3,
    )


def test_the_landing_page_shows_the_figures_that_matter(
    admin_client, admin_user, member, make_membership
):
    grant_memberships(
        member, [make_membership("Gold"), make_membership("Silver")], Actor()
    )
    call(201)
    call(400)
    call(400, hours_ago=30)
    Delivery.objects.create(kind="welcome", to_email="a@x.org", status="queued")
    Delivery.objects.create(kind="welcome", to_email="b@x.org", status="failed")

    page = admin_client.get(reverse("admin:index"))

    assert page.status_code == 200
    figures = {f.label: f.value for f in page.context["figures"]}
    assert figures == {
        "Members": 2,  # the member and the admin
        "Active grants": 2,
        "API calls, last 24 hours": 2,
        "Failed API calls, last 24 hours": 1,
        "Emails waiting": 1,
        "Emails failed": 1,
    }
    text = page.content.decode()
    assert "Membergate" in text
    assert reverse("admin:api_settings") in text


def test_each_figure_links_to_its_filtered_list(admin_client, db):
    call(400)
    page = admin_client.get(reverse("admin:index"))
    failed = next(
        f for f in page.context["figures"] if f.label.startswith("Failed API")
    )
    listed = admin_client.get(failed.url)
    assert listed.status_code == 200
    assert len(listed.context["cl"].result_list) == 1


def test_counts_are_exact_below_the_limit_and_qualified_above(db):
    assert estimated_count(Member.objects.all()) == (0, "")
    Member.objects.bulk_create(
        Member(email=f"m{i}@x.org", password="!") for i in range(EXACT_LIMIT + 5)
    )
    total, qualifier = estimated_count(Member.objects.all())
    assert qualifier == "about"
    assert total >= EXACT_LIMIT
    assert estimated_count(Member.objects.filter(email__startswith="m")) == (
        EXACT_LIMIT,
        "more than",
    )
    assert estimated_count(Member.objects.filter(email__startswith="m1")) == (
        len([i for i in range(EXACT_LIMIT + 5) if str(i).startswith("1")]),
        "",
    )
