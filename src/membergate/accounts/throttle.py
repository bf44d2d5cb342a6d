"""Slowing down password guessing, per account and per source address.

After SIGN_IN_MAX_FAILURES failures for an account (four times as many for
a source address, which many people may share), sign-in is refused without
a look at the password until SIGN_IN_LOCK_MINUTES have passed since the last
failure. Attempts refused this way are not counted, so the lock ends on time.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from membergate.accounts.models import SignInFailures
from membergate.members.emails import InvalidEmail, normalize_email

ADDRESS_FACTOR = 4

Scope = SignInFailures.Scope


@dataclass(frozen=True)
class Keys:
    account: str
    address: str | None

    def pairs(self) -> list[tuple[str, str]]:
        pairs = [(Scope.ACCOUNT.value, self.account)]
        if self.address:
            pairs.append((Scope.ADDRESS.value, self.address))
        return pairs


def keys_for(username: str, address: str | None) -> Keys:
    """The counters a sign-in attempt with this login touches."""
    try:
        account = normalize_email(username)
    except InvalidEmail:
        account = username.strip().lower()[:254]
    return Keys(account=account, address=address)


def _lock() -> timedelta:
    return timedelta(minutes=settings.SIGN_IN_LOCK_MINUTES)


def _limit(scope: str) -> int:
    limit: int = settings.SIGN_IN_MAX_FAILURES
    return limit * ADDRESS_FACTOR if scope == Scope.ADDRESS else limit


def locked_minutes(keys: Keys, now: datetime | None = None) -> int:
    """Minutes until sign-in may be tried again; 0 when it may be now."""
    now = now or timezone.now()
    wait = timedelta(0)
    for scope, key in keys.pairs():
        row = SignInFailures.objects.filter(scope=scope, key=key).first()
        if row is None or row.failures < _limit(scope):
            continue
        wait = max(wait, row.last_failure_at + _lock() - now)
    return math.ceil(wait.total_seconds() / 60) if wait > timedelta(0) else 0


def record_failure(keys: Keys, now: datetime | None = None) -> None:
    """Count a failure; a count idle for the lock's length starts afresh."""
    now = now or timezone.now()
    stale = now - _lock()
    for scope, key in keys.pairs():
        with transaction.atomic():
            updated = SignInFailures.objects.filter(scope=scope, key=key).update(
                failures=Case(
                    When(last_failure_at__lt=stale, then=Value(1)),
                    default=F("failures") + 1,
                ),
                last_failure_at=now,
            )
            if updated:
                continue
            try:
                # A savepoint: a concurrent first failure for the same key
                # makes this insert fail, and that one is counted instead.
                with transaction.atomic():
                    SignInFailures.objects.create(
                        scope=scope, key=key, failures=1, last_failure_at=now
                    )
            except IntegrityError:
                SignInFailures.objects.filter(scope=scope, key=key).update(
                    failures=F("failures") + 1, last_failure_at=now
                )


def clear_account(keys: Keys) -> None:
    """Forget an account's failures after it signed in.

    The source address keeps its count: signing in to one's own account
    must not buy more guesses at others.
    """
    SignInFailures.objects.filter(scope=Scope.ACCOUNT, key=keys.account).delete()
