"""The first run: an admin account and an API key, shown once."""

import secrets
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from membergate.apikeys.models import ApiKey
from membergate.members.models import Member

DEFAULT_KEY_NAME = "default"


@dataclass(frozen=True)
class FirstRun:
    admin_email: str
    admin_password: str
    api_key: str


def bootstrap(admin_email: str) -> FirstRun | None:
    """Create the first admin and API key unless a site owner exists.

    Return what was created, or None when this is not the first run. Safe
    when several servers start at once: one creates, the others see it.
    """
    if Member.objects.filter(is_superuser=True).exists():
        return None
    password = secrets.token_urlsafe(12)
    try:
        with transaction.atomic():
            Member.objects.create_superuser(admin_email, password)
            if ApiKey.objects.filter(name=DEFAULT_KEY_NAME).exists():
                return FirstRun(admin_email, password, api_key="")
            _, secret = ApiKey.create(DEFAULT_KEY_NAME)
    except IntegrityError:
        return None
    return FirstRun(admin_email, password, secret)
