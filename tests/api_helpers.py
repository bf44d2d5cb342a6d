"""What the incoming API tests share: known memberships, requests, snapshots.

The tests speak to the API over HTTP only (Django's test client or a live
`membergate serve`) and read the database through the ORM to see what a
request changed.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.management.color import no_style
from django.db import connection
from django.test import Client

from membergate.mail.models import Delivery
from membergate.members.models import Grant, Member, Membership

API = "/api/v1"
ALIAS = "/wp-json/opm-api/v1"
BASES = (API, ALIAS)

KEY_PLACEHOLDER = "YOUR_API_KEY"
SENDERS_DIR = Path(__file__).parent / "fixtures" / "senders"

# The member every sender fixture ends with, whichever way it was encoded.
ADA_EMAIL = "ada.lovelace@example.com"
ADA_FIRST = "Ada"
ADA_LAST = "Lovelace"

# Ids the seed guide writes into its URLs; the fixtures use them too.
GOLD, SILVER, BRONZE = 1, 2, 3


def make_known_memberships() -> dict[int, Membership]:
    """Memberships 1, 2 and 3, as a migrated site has them."""
    made = {
        pk: Membership.objects.create(pk=pk, title=title)
        for pk, title in ((GOLD, "Gold"), (SILVER, "Silver"), (BRONZE, "Bronze"))
    }
    # Explicit ids leave PostgreSQL's sequence behind; move it past them so
    # a membership made later does not collide.
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), [Membership]):
            cursor.execute(sql)
    return made


def active_ids(email: str) -> set[int]:
    member = Member.objects.get(email=email)
    return set(
        Grant.objects.active()
        .filter(member=member)
        .values_list("membership_id", flat=True)
    )


@dataclass(frozen=True)
class Snapshot:
    """Everything a webhook may change, to show that a request changed nothing."""

    members: list[tuple[Any, ...]] = field(default_factory=list)
    grants: list[tuple[Any, ...]] = field(default_factory=list)
    deliveries: list[tuple[Any, ...]] = field(default_factory=list)


def snapshot() -> Snapshot:
    return Snapshot(
        members=list(
            Member.objects.order_by("pk").values_list(
                "pk", "email", "first_name", "last_name", "password"
            )
        ),
        grants=list(
            Grant.objects.order_by("pk").values_list(
                "pk", "member_id", "membership_id", "expires_at", "revoked_at"
            )
        ),
        deliveries=list(
            Delivery.objects.order_by("pk").values_list("pk", "member_id", "kind")
        ),
    )


def send(
    client: Client,
    method: str,
    path: str,
    *,
    query: str = "",
    body: bytes | str = b"",
    content_type: str | None = None,
    headers: Mapping[str, str] | None = None,
    remote_addr: str = "203.0.113.10",
) -> Any:
    """Send one raw request, body and query string exactly as given."""
    url = f"{path}?{query}" if query else path
    # Set here rather than left to the test client, which names a content
    # type only when there is a body; an empty one is what a server sees
    # when the sender sent none.
    return client.generic(
        method,
        url,
        data=body,
        content_type=content_type or "",
        headers=dict(headers or {}),
        REMOTE_ADDR=remote_addr,
        CONTENT_TYPE=content_type or "",
    )


def send_fields(
    client: Client,
    action: str,
    key: str,
    *,
    base: str = API,
    method: str = "POST",
    fields: Mapping[str, Any] | None = None,
    query: str = "",
    headers: Mapping[str, str] | None = None,
    remote_addr: str = "203.0.113.10",
) -> Any:
    """Send fields as a JSON body with the key in the X-API-Key header."""
    all_headers = {"X-API-Key": key, **(headers or {})}
    body = json.dumps(dict(fields)) if fields is not None else b""
    return send(
        client,
        method,
        f"{base}{action}",
        query=query,
        body=body,
        content_type="application/json" if fields is not None else None,
        headers=all_headers,
        remote_addr=remote_addr,
    )


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """Check a WordPress REST error answer and return its body."""
    assert response.status_code == status, (response.status_code, response.content)
    body: dict[str, Any] = response.json()
    assert set(body) == {"code", "message", "data"}, body
    assert body["code"] == code, body
    assert isinstance(body["message"], str)
    assert body["message"].strip(), body
    assert body["data"]["status"] == status, body
    return body


def assert_member_answer(response: Any, status: int, email: str) -> dict[str, Any]:
    """Check the success answer's shape and return its ``data``."""
    assert response.status_code == status, (response.status_code, response.content)
    body = response.json()
    assert body["status"] == status
    data: dict[str, Any] = body["data"]
    assert set(data) >= {
        "created",
        "member",
        "memberships_added",
        "memberships_removed",
        "notified",
    }, data
    member = data["member"]
    assert set(member) >= {"id", "email", "first_name", "last_name", "memberships"}
    assert member["email"] == email
    for held in member["memberships"]:
        assert set(held) >= {"id", "title", "granted_at", "expires_at"}, held
        assert isinstance(held["id"], int)
    assert all(isinstance(pk, int) for pk in data["memberships_added"])
    assert all(isinstance(pk, int) for pk in data["memberships_removed"])
    assert isinstance(data["notified"], bool)
    return data


@dataclass(frozen=True)
class SenderRequest:
    """One request as an integration tool sends it, read from a fixture file."""

    name: str
    sender: str
    description: str
    action: str
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: str
    notified: bool

    @classmethod
    def load(cls, path: Path) -> "SenderRequest":
        raw = json.loads(path.read_text())
        return cls(
            name=path.stem,
            sender=raw["sender"],
            description=raw["description"],
            action=raw["action"],
            method=raw["method"],
            path=raw["path"],
            query=raw["query"],
            headers=raw["headers"],
            body=raw["body"],
            notified=raw.get("notified", False),
        )

    def send(self, client: Client, key: str) -> Any:
        headers = {
            name: value.replace(KEY_PLACEHOLDER, key)
            for name, value in self.headers.items()
        }
        content_type = None
        for name in list(headers):
            if name.lower() == "content-type":
                content_type = headers.pop(name)
        return send(
            client,
            self.method,
            self.path,
            query=self.query.replace(KEY_PLACEHOLDER, key),
            body=self.body.replace(KEY_PLACEHOLDER, key).encode(),
            content_type=content_type,
            headers=headers,
        )


def sender_requests() -> list[SenderRequest]:
    return [SenderRequest.load(p) for p in sorted(SENDERS_DIR.glob("*.json"))]
