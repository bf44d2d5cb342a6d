"""Creating members with notify inside a running service's database.

The same service functions and transaction the incoming API uses, run
through `membergate manage shell` so the test talks to the real database.
"""

import json

from tests.service import Service

SCRIPT = """
import json, sys
from django.db import transaction
from membergate.mail.services import enqueue_welcome_email
from membergate.members.services import (
    Actor, grant_memberships, resolve_memberships, upsert_member,
)
emails, ids = json.loads({payload!r})
for email in emails:
    with transaction.atomic():
        member, created = upsert_member(email, "Ada", "")
        grant_memberships(member, resolve_memberships(ids), Actor())
        if created:
            enqueue_welcome_email(member)
"""


def create_members(
    service: Service, emails: list[str], membership_ids: list[int] | None = None
) -> None:
    payload = json.dumps([emails, membership_ids or []])
    service.membergate("manage", "shell", "-c", SCRIPT.format(payload=payload))


def count_deliveries(service: Service, status: str) -> int:
    code = (
        "from membergate.mail.models import Delivery;"
        f"print(Delivery.objects.filter(status={status!r}).count())"
    )
    out = service.membergate("manage", "shell", "-c", code).stdout
    return int(out.strip().splitlines()[-1])
