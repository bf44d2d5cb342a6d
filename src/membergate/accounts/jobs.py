"""Forgetting sign-in failures that no longer count."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from membergate.accounts.models import SignInFailures
from membergate.core.maintenance import periodic


@periodic(minutes=60)
def forget_old_sign_in_failures() -> int:
    cutoff = timezone.now() - timedelta(minutes=settings.SIGN_IN_LOCK_MINUTES)
    old = SignInFailures.objects.filter(last_failure_at__lt=cutoff)
    ids = list(old.values_list("pk", flat=True)[:5000])
    deleted, _ = SignInFailures.objects.filter(pk__in=ids).delete()
    return deleted
