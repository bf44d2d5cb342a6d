"""What the API answers: successes, errors in the WordPress REST shape, and
the member and membership objects inside them."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from membergate.members.models import Grant, Member, Membership

type Json = dict[str, Any]


@dataclass
class Answer:
    status: int
    payload: Json
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def error_code(self) -> str:
        code = self.payload.get("code")
        return code if isinstance(code, str) else ""


class ApiError(Exception):
    """Stops a request with an error answer; the request changes nothing."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        ids: list[int] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        data: Json = {"status": status}
        if field is not None:
            data["field"] = field
        if ids is not None:
            data["ids"] = ids
        self.answer = Answer(
            status, {"code": code, "message": message, "data": data}, headers or {}
        )


def success(status: int, data: object) -> Answer:
    return Answer(status, {"status": status, "data": data})


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def grant_out(grant: Grant) -> Json:
    return {
        "id": grant.membership_id,
        "title": grant.membership.title,
        "granted_at": _time(grant.granted_at),
        "expires_at": _time(grant.expires_at),
    }


def member_out(member: Member, grants: list[Grant]) -> Json:
    return {
        "id": member.pk,
        "email": member.email,
        "first_name": member.first_name,
        "last_name": member.last_name,
        "memberships": [grant_out(g) for g in grants],
    }


def membership_out(membership: Membership, active_members: int) -> Json:
    return {
        "id": membership.pk,
        "title": membership.title,
        "duration": membership.duration,
        "duration_count": membership.duration_count,
        "ends_at": _time(membership.ends_at),
        "access": membership.describe_duration(),
        "archived": membership.is_archived,
        "active_members": active_members,
    }
