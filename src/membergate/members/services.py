"""Changes to members and their grants, shared by the API, admin and CLI.

Callers run these inside ``transaction.atomic()``: a request's changes are
applied whole or not at all.
"""

import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db import IntegrityError
from django.db.models import Count
from django.utils import timezone

from membergate.apikeys.models import ApiKey
from membergate.core import rows
from membergate.members.models import Grant, Member, Membership

# What the database's trigger says when it refuses an open grant of an
# archived membership (members migration 0002); PostgreSQL adds the id.
_ARCHIVED_REFUSAL = re.compile(
    r"membership is archived and cannot be granted(: (\d+))?"
)


@dataclass(frozen=True)
class Actor:
    """Who makes a change: an API key, a site owner, or neither (the CLI)."""

    api_key: ApiKey | None = None
    user: Member | None = None


class UnknownMemberships(Exception):
    """Some ids name no membership that can be granted.

    ``archived`` are those of them that exist but are archived.
    """

    def __init__(self, ids: Sequence[int], archived: Sequence[int] = ()) -> None:
        super().__init__(f"unknown or archived memberships: {list(ids)}")
        self.ids = list(ids)
        self.archived = list(archived)


def resolve_memberships(ids: Iterable[int]) -> list[Membership]:
    """Return the grantable memberships with these ids, in the order given.

    Raise UnknownMemberships naming every id that is missing or archived.
    """
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return []
    found = {
        m.pk: m
        for m in rows.select(Membership, f"id IN ({rows.placeholders(wanted)})", wanted)
    }
    missing = [i for i in wanted if i not in found or found[i].is_archived]
    if missing:
        archived = [i for i in missing if i in found]
        raise UnknownMemberships(missing, archived)
    return [found[i] for i in wanted]


def upsert_member(
    email: str, first_name: str = "", last_name: str = ""
) -> tuple[Member, bool]:
    """Find the member with this normalized email or create them.

    Return the member, locked for this transaction, and whether they were
    created. Non-empty names overwrite the stored ones; empty ones never
    blank them.
    """
    member = Member(
        email=email,
        first_name=first_name,
        last_name=last_name,
        password=UNUSABLE_PASSWORD_PREFIX + secrets.token_urlsafe(30),
    )
    # Losing the race to a concurrent create of the same address is not an
    # error: the other request's member is the one to update.
    if rows.insert_unless_taken(member, "email"):
        return member, True
    taken = find_member(email, lock=True)
    assert taken is not None
    member = taken

    changed = [
        field
        for field, value in (("first_name", first_name), ("last_name", last_name))
        if value and getattr(member, field) != value
    ]
    for field in changed:
        setattr(member, field, first_name if field == "first_name" else last_name)
    if changed:
        member.save(update_fields=changed)
    return member, False


def find_member(email: str, *, lock: bool = False) -> Member | None:
    """The member with this normalized email, or None."""
    found = rows.select(Member, "email = %s", [email], lock=lock)
    return found[0] if found else None


def grant_memberships(
    member: Member,
    memberships: Sequence[Membership],
    actor: Actor,
    now: datetime | None = None,
    *,
    new_member: bool = False,
) -> list[int]:
    """Grant each membership the member does not hold actively.

    Active grants stay as they are; an expired one is closed and a fresh one
    opened. Return the ids of the memberships granted. ``new_member`` says
    the member was created in this transaction and holds nothing yet, which
    saves a query on the busiest path.

    Raise UnknownMemberships, changing nothing, if a membership is archived.
    """
    now = now or timezone.now()
    if not memberships:
        return []
    archived = [m.pk for m in memberships if m.is_archived]
    if archived:
        raise UnknownMemberships(archived, archived)
    open_grants = (
        {}
        if new_member
        else {
            grant.membership_id: grant
            for grant in rows.select(
                Grant,
                "member_id = %s AND revoked_at IS NULL AND membership_id IN "
                f"({rows.placeholders(memberships)})",
                [member.pk, *(m.pk for m in memberships)],
            )
        }
    )
    expired = []
    new = []
    for membership in memberships:
        grant = open_grants.get(membership.pk)
        if grant is not None and grant.is_active(now):
            continue
        if grant is not None:
            expired.append(grant.pk)
        new.append(
            Grant(
                member=member,
                membership=membership,
                granted_at=now,
                expires_at=membership.expires_at_for(now),
                granted_by_key=actor.api_key,
                granted_by_user=actor.user,
            )
        )
    if expired:
        # Closed before the new rows go in: one open grant per membership.
        Grant.objects.filter(pk__in=expired).update(
            revoked_at=now, revoked_by_key=actor.api_key, revoked_by_user=actor.user
        )
    _insert_grants(new)
    return [grant.membership_id for grant in new]


def _insert_grants(grants: list[Grant]) -> None:
    """Insert new grants; a membership archived meanwhile is refused.

    The memberships were read before, so one may have been archived since
    (on PostgreSQL, by a site owner at this very moment); the database's
    trigger refuses the grant, and the caller gets the same error as for any
    archived membership. SQLite's message cannot name the id, but SQLite
    keeps the transaction usable: the archived ones are read back.
    """
    try:
        rows.insert_all(grants)
    except IntegrityError as error:
        refusal = _ARCHIVED_REFUSAL.search(str(error))
        if refusal is None:
            raise
        if refusal.group(2):
            ids = [int(refusal.group(2))]
        else:
            ids = list(
                Membership.objects.filter(
                    pk__in=[g.membership_id for g in grants], archived_at__isnull=False
                )
                .order_by("pk")
                .values_list("pk", flat=True)
            )
        raise UnknownMemberships(ids, ids) from error


def revoke_memberships(
    member: Member,
    memberships: Sequence[Membership],
    actor: Actor,
    now: datetime | None = None,
) -> list[int]:
    """Revoke the member's active grants of these memberships.

    A grant that has expired already gave no access and is left as it is:
    revoking what is not active changes nothing. Return the ids of the
    memberships revoked.
    """
    now = now or timezone.now()
    grants = list(member.grants.active(now).filter(membership__in=memberships))
    if not grants:
        return []
    Grant.objects.filter(pk__in=[g.pk for g in grants]).update(
        revoked_at=now, revoked_by_key=actor.api_key, revoked_by_user=actor.user
    )
    revoked = {g.membership_id for g in grants}
    return [m.pk for m in memberships if m.pk in revoked]


def active_member_counts(now: datetime | None = None) -> dict[int, int]:
    """Members holding each membership now, by membership id."""
    rows = (
        Grant.objects.active(now)
        .values_list("membership_id")
        .annotate(members=Count("*"))
        .order_by()
    )
    return dict(rows)


def active_grants(member: Member, now: datetime | None = None) -> list[Grant]:
    """The member's active grants with their memberships, by membership id."""
    now = now or timezone.now()
    # The same condition as GrantQuerySet.active(), in prepared statements:
    # the API reads it back after every change.
    grants = rows.select(
        Grant,
        "member_id = %s AND revoked_at IS NULL "
        "AND (expires_at IS NULL OR expires_at > %s)",
        [member.pk, rows.db_value(Grant, "expires_at", now)],
        order_by="membership_id",
    )
    ids = list({grant.membership_id for grant in grants})
    if ids:
        memberships = {
            m.pk: m
            for m in rows.select(Membership, f"id IN ({rows.placeholders(ids)})", ids)
        }
        for grant in grants:
            grant.membership = memberships[grant.membership_id]
    return grants
