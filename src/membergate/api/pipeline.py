"""The path of every API call, in the contract's order.

The key (401, or 429 after too many failures from one address), the
key's own rate limit (429), the method (405), the body's size and type
(413, 415), the fields (400), the Idempotency-Key, then what the fields
refer to (400 unknown_membership, 404) and the change. The change, the
welcome email and the request log row commit in one transaction.
"""

import ipaddress
import logging
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import parse_qsl

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, UnreadablePostError
from django.utils import timezone

from membergate.api import actions, idempotency, ratelimit
from membergate.api.answers import Answer, ApiError
from membergate.api.models import RequestLog
from membergate.api.parsing import (
    MAX_BODY_BYTES,
    Fields,
    ParseError,
    UnsupportedMediaType,
    parse_command,
    parse_member_id,
    parse_member_query,
    read_fields,
    text_value,
)
from membergate.api.requestlog import write_log
from membergate.apikeys.models import ApiKey
from membergate.core.latebody import late_body_message, late_body_seconds
from membergate.core.middleware import get_request_id
from membergate.members.models import Member
from membergate.members.services import Actor

logger = logging.getLogger(__name__)

Action = RequestLog.Action
CHANGES = (Action.CREATE_MEMBER, Action.ADD_MEMBERSHIP, Action.REMOVE_MEMBERSHIP)
KEY_FIELD = "opm_api_key"
KEY_HEADERS = ("x-opm-api-key", "x-api-key")
# A real key is ~46 characters; anything far longer is not worth hashing.
MAX_KEY_LENGTH = 200
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


@dataclass
class Call:
    """One API call as received, before anything is decided about it."""

    method: str
    path: str
    allowed: Mapping[str, str]
    query_string: str
    content_type: str
    # Header names in lower case.
    headers: dict[str, str]
    read_body: Callable[[], bytes | None]
    source_ip: str | None
    request_id: str
    member_id: str | None = None
    resent_from: RequestLog | None = None
    resent_by: Member | None = None
    started: float = field(default_factory=time.perf_counter)
    received_at: datetime = field(default_factory=timezone.now)
    # Filled in as the call is decided; the request log reads them.
    api_key: ApiKey | None = None
    secret: str | None = None
    email: str = ""
    dry_run: bool = False
    replayed: bool = False
    _body: bytes | None = None
    _body_read: bool = False
    _fields: Fields | None = None
    _refusal: ApiError | None = None

    @property
    def action(self) -> str:
        return self.allowed.get(self.method) or next(iter(self.allowed.values()))

    @property
    def changes(self) -> bool:
        return self.allowed.get(self.method) in CHANGES

    def body(self) -> bytes | None:
        """The body, or None when it is over the size limit."""
        if not self._body_read:
            self._body = self.read_body()
            self._body_read = True
        return self._body

    def fields(self) -> Fields:
        """The query's and body's fields, parsed once (or refused once)."""
        if self._refusal is not None:
            raise self._refusal
        if self._fields is None:
            try:
                self._fields = self._read_fields()
            except ApiError as refusal:
                self._refusal = refusal
                raise
        return self._fields

    def _read_fields(self) -> Fields:
        body = self.body()
        if body is None:
            raise ApiError(
                413,
                "payload_too_large",
                f"The body is larger than {MAX_BODY_BYTES // 1024} KiB.",
            )
        try:
            return read_fields(self.query_string, self.content_type, body)
        except UnsupportedMediaType:
            raise ApiError(
                415,
                "unsupported_media_type",
                "Send the fields as JSON, as a form (form-urlencoded or "
                "multipart) or in the URL's query string.",
            ) from None
        except ParseError as error:
            raise _bad_input(error) from None

    def late_body(self) -> ApiError | None:
        """The 408 refusal when the body was read and missed its deadline."""
        if self._refusal is not None and self._refusal.answer.status == 408:
            return self._refusal
        return None

    def parsed_fields(self) -> Fields:
        """The fields if they could be read, else none (for the log)."""
        try:
            return self.fields() if self._body_read or self.changes else {}
        except ApiError:
            return {}


def serve(
    request: HttpRequest, allowed: Mapping[str, str], member_id: str | None = None
) -> tuple[Answer, Call]:
    """Answer one HTTP call to the API."""
    call = Call(
        method=request.method or "GET",
        path=request.path,
        allowed=allowed,
        query_string=request.META.get("QUERY_STRING", ""),
        content_type=request.META.get("CONTENT_TYPE", ""),
        headers={name.lower(): value for name, value in request.headers.items()},
        read_body=lambda: _read_body(request),
        source_ip=_source_ip(request),
        request_id=_request_id(request),
        member_id=member_id,
    )
    try:
        call.secret = _find_secret(call)
        key = None
        if call.secret and len(call.secret) <= MAX_KEY_LENGTH:
            key = ApiKey.authenticate(call.secret)
        if key is not None:
            key.touch()
            call.api_key = key
        answer, _ = process(call, Actor(api_key=key), resent=False)
    except Exception:
        # Only when even the error could not be logged: the database is
        # most likely unreachable.
        logger.exception("API call %s could not be served", call.request_id)
        answer = _internal_error(call)
    return answer, call


def process(call: Call, actor: Actor, *, resent: bool) -> tuple[Answer, RequestLog]:
    """Decide the call and record it, in one transaction."""
    try:
        with transaction.atomic():
            answer = _decide(call, actor, resent=resent)
            entry = write_log(call, answer)
        return answer, entry
    except Exception:
        logger.exception("API call %s to %s failed", call.request_id, call.action)
    answer = _internal_error(call)
    with transaction.atomic():
        entry = write_log(call, answer)
    return answer, entry


def _internal_error(call: Call) -> Answer:
    answer = ApiError(
        500,
        "internal_error",
        "Something went wrong on the server; nothing was changed. Try again "
        f"later, or quote this id when reporting it: {call.request_id}",
    ).answer
    answer.payload["data"]["request_id"] = call.request_id
    return answer


def _decide(call: Call, actor: Actor, *, resent: bool) -> Answer:
    try:
        if not resent:
            _check_key(call, actor)
        action = call.allowed.get(call.method)
        if action is None:
            raise _not_allowed(call)
        if action in CHANGES:
            return _change(call, action, actor, resent=resent)
        return _read(call, action)
    except ApiError as error:
        return error.answer


def _check_key(call: Call, actor: Actor) -> None:
    key = actor.api_key
    if key is None:
        if not call.secret and (late := call.late_body()) is not None:
            # The key may be among the fields that never came: a slow
            # network, not a failed sign-in to count against the address.
            raise late
        verdict = ratelimit.hit(
            f"auth:{call.source_ip}",
            settings.API_AUTH_FAILURE_LIMIT,
            count_refused=True,
        )
        if not verdict.allowed:
            raise _rate_limited(verdict.retry_after)
        if not call.secret:
            raise ApiError(
                401,
                "missing_api_key",
                "No API key was given. Add opm_api_key=YOUR_KEY to the URL or "
                "send it in the X-API-Key header.",
            )
        raise ApiError(
            401,
            "invalid_api_key",
            "The API key is wrong or has been revoked. Copy it again from the "
            "admin's API keys.",
        )
    if key.rate_limit_per_minute is not None:
        verdict = ratelimit.hit(
            f"key:{key.pk}", key.rate_limit_per_minute, count_refused=False
        )
        if not verdict.allowed:
            raise _rate_limited(verdict.retry_after)


def _rate_limited(retry_after: int) -> ApiError:
    return ApiError(
        429,
        "rate_limited",
        f"Too many requests. Try again in {retry_after} seconds.",
        headers={"Retry-After": str(retry_after)},
    )


def _not_allowed(call: Call) -> ApiError:
    methods = ", ".join(call.allowed)
    if call.changes or any(a in CHANGES for a in call.allowed.values()):
        message = f"Use POST for this URL (or PUT), not {call.method}."
    else:
        message = f"Use {methods} for this URL, not {call.method}."
    return ApiError(405, "method_not_allowed", message, headers={"Allow": methods})


def _bad_input(error: ParseError) -> ApiError:
    return ApiError(400, error.code, error.message, field=error.field)


def _change(call: Call, action: str, actor: Actor, *, resent: bool) -> Answer:
    fields = call.fields()
    try:
        command = parse_command(
            fields, needs_memberships=action != Action.CREATE_MEMBER
        )
    except ParseError as error:
        raise _bad_input(error) from None
    call.email, call.dry_run = command.email, command.dry_run

    record = None
    raw_key = call.headers.get("idempotency-key", "")
    if raw_key and actor.api_key is not None and not resent:
        claimed = idempotency.claim(
            actor.api_key,
            idempotency.validate_key(raw_key),
            idempotency.fingerprint(call.method, action, command),
        )
        if isinstance(claimed, Answer):
            call.replayed = True
            return claimed
        record = claimed

    apply = {
        Action.CREATE_MEMBER: actions.create_member,
        Action.ADD_MEMBERSHIP: actions.add_membership,
        Action.REMOVE_MEMBERSHIP: actions.remove_membership,
    }[Action(action)]
    try:
        # A savepoint: an error or a dry run undoes the change, while the
        # request log row and the idempotency record still commit.
        with transaction.atomic():
            answer = apply(command, actor)
            if command.dry_run:
                raise _Undo(answer)
    except _Undo as undo:
        answer = undo.answer
    except ApiError as error:
        answer = error.answer
    if record is not None:
        idempotency.store(record, answer)
    return answer


class _Undo(Exception):
    def __init__(self, answer: Answer) -> None:
        self.answer = answer


def _read(call: Call, action: str) -> Answer:
    try:
        if action == Action.OTHER:
            raise ApiError(
                404,
                "rest_no_route",
                "No API endpoint has this URL and method. Check the URL against "
                "the list on the admin's API settings page.",
            )
        if action == Action.LIST_MEMBERSHIPS:
            return actions.list_memberships()
        if action == Action.LIST_MEMBERS:
            return actions.list_members(parse_member_query(call.query_string))
        return actions.get_member(parse_member_id(call.member_id or ""))
    except ParseError as error:
        raise _bad_input(error) from None


def _find_secret(call: Call) -> str | None:
    """The key the sender gave, from the first place that has one."""
    for name, value in parse_qsl(call.query_string, keep_blank_values=True):
        if name == KEY_FIELD and value.strip():
            return value.strip()
    for header in KEY_HEADERS:
        value = call.headers.get(header, "").strip()
        if value:
            return value
    scheme, _, token = call.headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    if call.changes:
        # Some senders can only put the key among the fields they post.
        try:
            in_body = text_value(call.fields(), KEY_FIELD)
        except ApiError:
            return None
        if in_body and in_body.strip():
            return in_body.strip()
    return None


def _read_body(request: HttpRequest) -> bytes | None:
    """Read at most the limit; None when the body is larger.

    A declared length over the limit is refused before anything is read.
    A body without a length (chunked) is read up to one byte past it.
    """
    if (seconds := late_body_seconds(request)) is not None:
        raise ApiError(408, "request_timeout", late_body_message(seconds))
    declared = request.META.get("CONTENT_LENGTH", "")
    try:
        if declared and declared.strip().isdigit():
            if int(declared) > MAX_BODY_BYTES:
                return None
            return request.body
        if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
            data: bytes = request.META["wsgi.input"].read(MAX_BODY_BYTES + 1)
            return None if len(data) > MAX_BODY_BYTES else data
        return request.body
    except (UnreadablePostError, OSError):
        raise ApiError(
            400, "invalid_body", "The body could not be read; send it again."
        ) from None


def _source_ip(request: HttpRequest) -> str | None:
    address = request.META.get("REMOTE_ADDR", "")
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def _request_id(request: HttpRequest) -> str:
    # The id the request has in every log line, when the middleware gave one.
    if assigned := get_request_id(request):
        return assigned
    given = request.headers.get("X-Request-ID", "")
    if _REQUEST_ID.fullmatch(given):
        return given
    return uuid.uuid4().hex
