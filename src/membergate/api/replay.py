"""Sending a logged request again, on a site owner's behalf."""

import uuid
from urllib.parse import parse_qsl, urlencode

from membergate.api.masking import is_secret_name
from membergate.api.models import RequestLog
from membergate.api.pipeline import KEY_FIELD, Call, process
from membergate.members.models import Member
from membergate.members.services import Actor

Action = RequestLog.Action
_CHANGE_METHODS = ("POST", "PUT")
# The methods each action answers to, as the routes define them.
_ALLOWED = {
    Action.CREATE_MEMBER: _CHANGE_METHODS,
    Action.ADD_MEMBERSHIP: _CHANGE_METHODS,
    Action.REMOVE_MEMBERSHIP: _CHANGE_METHODS,
    Action.LIST_MEMBERS: ("GET",),
    Action.GET_MEMBER: ("GET",),
    Action.LIST_MEMBERSHIPS: ("GET",),
}


def resend_request(entry: RequestLog, user: Member) -> RequestLog:
    """Run a logged request again, as ``user``, and log it as a resend.

    The stored request is used as it was kept, secrets masked and the key
    left out: the site owner's own authority replaces it, and any grant it
    makes names them. A body that was refused as too large was never kept,
    so its resend carries none.
    """
    action = Action(entry.action)
    methods = _ALLOWED.get(action, ())
    call = Call(
        method=entry.method,
        path=entry.path,
        allowed=dict.fromkeys(methods, action) or {entry.method: action},
        query_string=_without_key(entry.query),
        content_type=entry.content_type,
        headers={
            name: value
            for name, value in entry.headers.items()
            if not is_secret_name(name) and name != "idempotency-key"
        },
        read_body=lambda: entry.body.encode("utf-8"),
        source_ip=None,
        request_id=uuid.uuid4().hex,
        member_id=entry.path.rstrip("/").rsplit("/", 1)[-1],
        resent_from=entry,
        resent_by=user,
    )
    _, new_entry = process(call, Actor(user=user), resent=True)
    return new_entry


def _without_key(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(name, value) for name, value in pairs if name != KEY_FIELD])
