"""What each endpoint does, given a validated command.

Changes go through the member services shared with the admin and CLI; the
caller runs them inside the request's transaction.
"""

import math
from datetime import datetime

from django.db.models import Prefetch
from django.utils import timezone

from membergate.api.answers import (
    Answer,
    ApiError,
    member_out,
    membership_out,
    success,
)
from membergate.api.parsing import Command, MemberQuery
from membergate.core import rows
from membergate.mail.services import enqueue_welcome_email
from membergate.members.models import Grant, Member, Membership
from membergate.members.services import (
    Actor,
    UnknownMemberships,
    active_grants,
    active_member_counts,
    find_member,
    grant_memberships,
    resolve_memberships,
    revoke_memberships,
    upsert_member,
)


def _resolve(command: Command) -> list[Membership]:
    try:
        return resolve_memberships(command.membership_ids)
    except UnknownMemberships as unknown:
        raise _unknown(unknown, command) from None


def _grant(
    command: Command,
    member: Member,
    memberships: list[Membership],
    actor: Actor,
    now: datetime | None = None,
    *,
    new_member: bool = False,
) -> list[int]:
    # A membership archived since _resolve read it is refused here.
    try:
        return grant_memberships(member, memberships, actor, now, new_member=new_member)
    except UnknownMemberships as unknown:
        raise _unknown(unknown, command) from None


def _unknown(unknown: UnknownMemberships, command: Command) -> ApiError:
    missing = [i for i in unknown.ids if i not in unknown.archived]
    archived = unknown.archived
    reasons = []
    if missing:
        ids = "id" if len(missing) == 1 else "ids"
        reasons.append(
            f"no membership has the {ids} {_listed(missing)}: check the ids in "
            "the admin's membership list"
        )
    if archived:
        subject = "membership" if len(archived) == 1 else "memberships"
        verb = "is" if len(archived) == 1 else "are"
        reasons.append(
            f"{subject} {_listed(archived)} {verb} archived: the API neither "
            "grants nor revokes an archived membership; unarchive it in the "
            "admin, or revoke it from the member's page there"
        )
    message = "; ".join(reasons)
    return ApiError(
        400,
        "unknown_membership",
        f"{message[0].upper()}{message[1:]}. Nothing was changed.",
        field=command.memberships_field,
        ids=unknown.ids,
    )


def _listed(ids: list[int]) -> str:
    """``2``, or ``2, 5 and 7``."""
    names = [str(i) for i in ids]
    if len(names) == 1:
        return names[0]
    return f"{', '.join(names[:-1])} and {names[-1]}"


def _locked_member(email: str) -> Member:
    member = find_member(email, lock=True)
    if member is None:
        raise ApiError(
            404,
            "member_not_found",
            "No member has this email address. Create the member first.",
            field="email",
        )
    return member


def _changed(
    member: Member,
    *,
    created: bool,
    added: list[int],
    removed: list[int],
    notified: bool,
    dry_run: bool,
    grants: list[Grant] | None = None,
) -> Answer:
    shown = member_out(member, active_grants(member) if grants is None else grants)
    if dry_run and created:
        shown["id"] = None
    data = {
        "created": created,
        "member": shown,
        "memberships_added": added,
        "memberships_removed": removed,
        "notified": notified,
    }
    if dry_run:
        data["dry_run"] = True
    return success(201 if created else 200, data)


def create_member(command: Command, actor: Actor) -> Answer:
    memberships = _resolve(command)
    member, created = upsert_member(
        command.email, command.first_name, command.last_name
    )
    now = timezone.now()
    added = _grant(command, member, memberships, actor, now, new_member=created)
    notify = created and command.notify
    if notify and not command.dry_run:
        enqueue_welcome_email(member)
    return _changed(
        member,
        created=created,
        added=added,
        removed=[],
        notified=notify,
        dry_run=command.dry_run,
        # A new member holds exactly what was just granted: no need to read
        # it back.
        grants=_granted(member, memberships, now) if created else None,
    )


def _granted(
    member: Member, memberships: list[Membership], now: datetime
) -> list[Grant]:
    grants = [
        Grant(
            member=member,
            membership=m,
            granted_at=now,
            expires_at=m.expires_at_for(now),
        )
        for m in memberships
    ]
    return sorted(
        (g for g in grants if g.is_active(now)), key=lambda g: g.membership_id
    )


def add_membership(command: Command, actor: Actor) -> Answer:
    memberships = _resolve(command)
    member = _locked_member(command.email)
    added = _grant(command, member, memberships, actor)
    return _changed(
        member,
        created=False,
        added=added,
        removed=[],
        notified=False,
        dry_run=command.dry_run,
    )


def remove_membership(command: Command, actor: Actor) -> Answer:
    memberships = _resolve(command)
    member = _locked_member(command.email)
    removed = revoke_memberships(member, memberships, actor)
    return _changed(
        member,
        created=False,
        added=[],
        removed=removed,
        notified=False,
        dry_run=command.dry_run,
    )


def list_memberships() -> Answer:
    counts = active_member_counts()
    return success(
        200, [membership_out(m, counts.get(m.pk, 0)) for m in Membership.objects.all()]
    )


def list_members(query: MemberQuery) -> Answer:
    start = (query.page - 1) * query.per_page
    if query.email is not None:
        # At most one member: no count, no paging query.
        found = find_member(query.email)
        matching = [found] if found is not None else []
        total = len(matching)
        shown = [member_out(m, active_grants(m)) for m in matching[start:]]
    else:
        members = Member.objects.order_by("id")
        total = members.count()
        page = members.prefetch_related(_active_grants())[
            start : start + query.per_page
        ]
        shown = [member_out(m, m.active_grant_list) for m in page]  # type: ignore[attr-defined]
    return success(
        200,
        {
            "members": shown,
            "page": query.page,
            "per_page": query.per_page,
            "total": total,
            "total_pages": math.ceil(total / query.per_page),
        },
    )


def get_member(member_id: int | None) -> Answer:
    found = rows.select(Member, "id = %s", [member_id]) if member_id is not None else []
    member = found[0] if found else None
    if member is None:
        raise ApiError(404, "member_not_found", "No member has this id.", field="id")
    return success(200, member_out(member, active_grants(member)))


def _active_grants() -> Prefetch:  # type: ignore[type-arg]
    return Prefetch(
        "grants",
        queryset=Grant.objects.active()
        .select_related("membership")
        .order_by("membership_id"),
        to_attr="active_grant_list",
    )
