"""The figures on the admin's landing page, each cheap on big tables."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from membergate.api.models import RequestLog
from membergate.core.counting import estimated_count
from membergate.mail.models import Delivery
from membergate.members.models import Grant, Member


@dataclass(frozen=True)
class Figure:
    label: str
    value: int
    url: str
    # "about" or "more than" when the value is not an exact count.
    qualifier: str = ""
    warn: bool = False


def landing_figures(now: datetime | None = None) -> list[Figure]:
    now = now or timezone.now()
    since = now - timedelta(hours=24)
    members, members_qualifier = estimated_count(Member.objects.all())
    # Counted up to a limit, not summed from every membership's count: that
    # reads every open grant, which the membership list does when asked.
    grants, grants_qualifier = estimated_count(Grant.objects.active(now))
    calls = RequestLog.objects.filter(created_at__gte=since)
    failures = calls.filter(Q(status_code__lt=200) | Q(status_code__gte=300)).count()
    waiting = Delivery.objects.filter(
        status__in=[Delivery.Status.QUEUED, Delivery.Status.SENDING]
    ).count()
    failed = Delivery.objects.filter(status=Delivery.Status.FAILED).count()

    log_url = _changelist("api_requestlog")
    deliveries_url = _changelist("mail_delivery")
    since_query = urlencode({"created_at__gte": since.isoformat(timespec="seconds")})
    return [
        Figure(
            "Members",
            members,
            _changelist("members_member"),
            qualifier=members_qualifier,
        ),
        Figure(
            "Active grants",
            grants,
            _changelist("members_membership"),
            qualifier=grants_qualifier,
        ),
        Figure("API calls, last 24 hours", calls.count(), f"{log_url}?{since_query}"),
        Figure(
            "Failed API calls, last 24 hours",
            failures,
            f"{log_url}?result=failure&{since_query}",
            warn=failures > 0,
        ),
        Figure(
            "Emails waiting",
            waiting,
            f"{deliveries_url}?status__in=queued,sending",
        ),
        Figure(
            "Emails failed",
            failed,
            f"{deliveries_url}?status__exact=failed",
            warn=failed > 0,
        ),
    ]


def _changelist(model: str) -> str:
    """The list's URL, or "" while that list is not in the admin."""
    try:
        return reverse(f"admin:{model}_changelist")
    except NoReverseMatch:
        return ""
