"""Turn what a sender gives into a validated command.

Senders put fields in the query string and in a body that is JSON (an
object, or a one-element array holding it), form-urlencoded or multipart;
where a field is in both, the body wins. This module is the one place that
knows those shapes: the endpoints receive a ``Command`` or a
``MemberQuery`` and never look at the raw request.

JSON numbers are taken as membership ids only when they are whole numbers
written without a fraction: ``2.0`` and ``true`` are refused rather than
guessed at, since a sender who maps the wrong field should hear about it.
"""

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from io import BytesIO
from urllib.parse import parse_qsl

from django.core.exceptions import SuspiciousOperation
from django.core.files.uploadhandler import MemoryFileUploadHandler
from django.http.multipartparser import MultiPartParser, MultiPartParserError

from membergate.members.emails import InvalidEmail, normalize_email

MAX_BODY_BYTES = 64 * 1024
MAX_NAME_LENGTH = 150
MAX_EMAIL_LENGTH = 254
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20
# Ids are 64-bit integers in both databases; a larger number names nothing.
MAX_ID = 2**63 - 1
# More fields than any sender needs; bounds the work a body can cause.
MAX_FIELDS = 1000

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_DIGITS = re.compile(r"[0-9]+")
# What a decoder puts for bytes that are not UTF-8, and its own UTF-8 bytes.
_REPLACEMENT = "\ufffd"
_REPLACEMENT_BYTES = _REPLACEMENT.encode()
# `memberships[]` and `memberships[0]` name the same field as `memberships`.
_BRACKETED = re.compile(r"^([^\[\]]+)\[[0-9]*\]$")

type Value = str | int | float | bool | list[object] | dict[str, object] | None
type Fields = dict[str, list[Value]]


class ParseError(Exception):
    """Bad input: answered with 400, ``code`` and the offending ``field``."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


class UnsupportedMediaType(Exception):
    """A body in a format the API does not read (XML, say)."""

    def __init__(self, content_type: str) -> None:
        super().__init__(content_type)
        self.content_type = content_type


@dataclass(frozen=True)
class Command:
    """One create, add or remove, validated."""

    email: str
    first_name: str = ""
    last_name: str = ""
    notify: bool = False
    membership_ids: tuple[int, ...] = ()
    # The field the ids were given in, named back in an error about them.
    memberships_field: str = "memberships"
    dry_run: bool = False


@dataclass(frozen=True)
class MemberQuery:
    """The parameters of the member list."""

    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    email: str | None = None


def media_type(content_type: str) -> str:
    """``Application/JSON; charset=utf-8`` → ``application/json``."""
    return content_type.split(";", 1)[0].strip().lower()


def read_fields(query_string: str, content_type: str, body: bytes) -> Fields:
    """Every field of the query string and body, the body's winning.

    Raise ParseError for a body that cannot be read in its own format and
    UnsupportedMediaType for one in a format the API does not take.
    """
    # The body first: a body of the wrong type is refused (415) before any
    # field is looked at.
    body_fields = _body_fields(content_type, body)
    fields = _fields_from_pairs(parse_query(query_string))
    fields.update(body_fields)
    return fields


def parse_command(fields: Fields, *, needs_memberships: bool) -> Command:
    """Validate the fields of a create, add or remove."""
    ids = parse_membership_ids(fields)
    if needs_memberships and not ids:
        raise ParseError(
            "invalid_memberships",
            "Say which membership to change: give its id in membership_id "
            "(or several in memberships).",
            "membership_id",
        )
    return Command(
        email=parse_email(fields),
        first_name=_parse_name(fields, "first_name"),
        last_name=_parse_name(fields, "last_name"),
        notify=_parse_flag(fields, "notify", "invalid_notify"),
        membership_ids=ids,
        memberships_field=(
            "membership_id"
            if fields.get("membership_id") and not fields.get("memberships")
            else "memberships"
        ),
        dry_run=_parse_flag(fields, "dry_run", "invalid_dry_run"),
    )


def parse_member_query(query_string: str) -> MemberQuery:
    fields = _fields_from_pairs(parse_query(query_string))
    email = None
    if _last(fields, "email") not in (None, ""):
        email = parse_email(fields)
    return MemberQuery(
        page=_parse_count(fields, "page", 1, maximum=10**9),
        per_page=min(
            _parse_count(fields, "per_page", DEFAULT_PER_PAGE, maximum=10**9),
            MAX_PER_PAGE,
        ),
        email=email,
    )


def parse_member_id(raw: str) -> int | None:
    """A member id from the URL, or None when it cannot name a member."""
    if not _DIGITS.fullmatch(raw) or len(raw) > 19 or int(raw) > MAX_ID:
        return None
    return int(raw)


def text_value(fields: Fields, name: str) -> str | None:
    """The field's last value when it is text, else None."""
    value = _last(fields, name)
    return value if isinstance(value, str) else None


# -- the sources -------------------------------------------------------------


def parse_query(query_string: str, errors: str = "strict") -> list[tuple[str, str]]:
    """The query string's fields; %-escapes must spell UTF-8 text.

    A Latin-1 "J%FCrgen" is refused rather than stored as "J\ufffdrgen".
    """
    try:
        return parse_qsl(
            query_string,
            keep_blank_values=True,
            max_num_fields=MAX_FIELDS,
            errors=errors,
        )
    except UnicodeDecodeError:
        raise ParseError(
            "invalid_body",
            "The URL's fields are not UTF-8 text: a %-escape spells a byte "
            "UTF-8 does not have. Send the text as UTF-8.",
        ) from None
    except ValueError:
        raise ParseError(
            "invalid_body", f"The URL has more than {MAX_FIELDS} fields."
        ) from None


def _fields_from_pairs(pairs: Iterable[tuple[str, Value]]) -> Fields:
    fields: Fields = {}
    for raw_name, value in pairs:
        name = raw_name.strip().lower()
        bracketed = _BRACKETED.match(name)
        if bracketed:
            name = bracketed.group(1).strip()
        fields.setdefault(name, []).append(value)
    return fields


def _body_fields(content_type: str, body: bytes) -> Fields:
    kind = media_type(content_type)
    if kind == "application/json" or kind.endswith("+json"):
        return _json_fields(body)
    if kind == "application/x-www-form-urlencoded":
        return _fields_from_pairs(_parse_form(body))
    if kind == "multipart/form-data":
        return _fields_from_pairs(_parse_multipart(content_type, body))
    if kind in ("", "text/plain"):
        # Some senders post JSON without saying so; anything else in an
        # unlabelled body is a format the API does not take.
        if not body.strip():
            return {}
        if body.lstrip()[:1] in (b"{", b"["):
            return _json_fields(body)
    raise UnsupportedMediaType(kind)


def _json_fields(body: bytes) -> Fields:
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise ParseError(
            "invalid_json",
            "The body is not valid JSON. Check for a missing quote, comma or brace.",
        ) from None
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    if not isinstance(data, dict):
        raise ParseError(
            "invalid_json",
            "The JSON body must be an object of fields, like "
            '{"email": "ada@example.com"}.',
        )
    if len(data) > MAX_FIELDS:
        raise ParseError("invalid_json", f"The body has more than {MAX_FIELDS} fields.")
    return _fields_from_pairs(data.items())


def _parse_form(body: bytes) -> list[tuple[str, str]]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ParseError("invalid_body", "The form body is not UTF-8 text.") from None
    try:
        return parse_qsl(
            text, keep_blank_values=True, max_num_fields=MAX_FIELDS, errors="strict"
        )
    except UnicodeDecodeError:
        raise ParseError(
            "invalid_body",
            "The form body's fields are not UTF-8 text: a %-escape spells a "
            "byte UTF-8 does not have. Send the text as UTF-8.",
        ) from None
    except ValueError:
        raise ParseError(
            "invalid_body", f"The body has more than {MAX_FIELDS} fields."
        ) from None


def _parse_multipart(content_type: str, body: bytes) -> list[tuple[str, str]]:
    """The text fields of a multipart body; uploaded files are ignored."""
    meta = {"CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(len(body))}
    try:
        parser = MultiPartParser(
            meta, BytesIO(body), [MemoryFileUploadHandler()], "utf-8"
        )
        data, _ = parser.parse()
    except (MultiPartParserError, SuspiciousOperation, ValueError, LookupError):
        raise ParseError(
            "invalid_body", "The multipart form body is malformed."
        ) from None
    fields = [(name, value) for name, values in data.lists() for value in values]
    # Django decodes each part with replacement characters; one that was not
    # in the body itself stands for bytes that are not UTF-8.
    if _REPLACEMENT_BYTES not in body and any(
        _REPLACEMENT in name or _REPLACEMENT in value for name, value in fields
    ):
        raise ParseError(
            "invalid_body",
            "The multipart form body's fields are not UTF-8 text. "
            "Send the text as UTF-8.",
        )
    return fields


# -- the fields ---------------------------------------------------------------


def _last(fields: Fields, name: str) -> Value:
    values = fields.get(name)
    return values[-1] if values else None


def parse_email(fields: Fields) -> str:
    value = _last(fields, "email")
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ParseError(
            "missing_email",
            "The email field is required: give the member's email address.",
            "email",
        )
    if not isinstance(value, str):
        raise ParseError(
            "invalid_email", "The email field must be one email address.", "email"
        )
    try:
        email = normalize_email(value)
    except InvalidEmail:
        email = ""
    if not email or len(email) > MAX_EMAIL_LENGTH:
        raise ParseError(
            "invalid_email",
            "The email field is not a valid email address, like ada@example.com.",
            "email",
        )
    return email


def _parse_name(fields: Fields, name: str) -> str:
    value = _last(fields, name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ParseError("invalid_name", f"The {name} field must be text.", name)
    value = value.strip()
    if len(value) > MAX_NAME_LENGTH:
        raise ParseError(
            "invalid_name",
            f"The {name} field is longer than {MAX_NAME_LENGTH} characters.",
            name,
        )
    if not _is_storable_text(value):
        raise ParseError(
            "invalid_name",
            f"The {name} field holds control or invalid characters.",
            name,
        )
    return value


def _is_storable_text(value: str) -> bool:
    """Free of control characters and of halves of surrogate pairs."""
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in value):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _parse_flag(fields: Fields, name: str, code: str) -> bool:
    value = _last(fields, name)
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, int) and value in (0, 1):
        return value == 1
    if isinstance(value, str):
        word = value.strip().lower()
        if word == "" or word in _FALSE:
            return False
        if word in _TRUE:
            return True
    raise ParseError(
        code,
        f"The {name} field must be 1 or 0 (or true/false, yes/no, on/off).",
        name,
    )


def parse_membership_ids(fields: Fields) -> tuple[int, ...]:
    """Ids from ``memberships`` and ``membership_id``, in order, once each."""
    ids: list[int] = []
    for name in ("memberships", "membership_id"):
        for value in fields.get(name, []):
            ids.extend(_ids_of(value, name, nested=False))
    return tuple(dict.fromkeys(ids))


def _ids_of(value: object, field: str, *, nested: bool) -> list[int]:
    bad = ParseError(
        "invalid_memberships",
        f"The {field} field must hold membership ids: whole numbers like 3, "
        "or a list like 1,2,3.",
        field,
    )
    if value is None:
        return []
    if isinstance(value, (bool, float)):
        raise bad
    if isinstance(value, int):
        if not 1 <= value <= MAX_ID:
            raise bad
        return [value]
    if isinstance(value, str):
        ids = []
        for piece in value.split(","):
            piece = piece.strip()
            if not piece:
                continue
            if not _DIGITS.fullmatch(piece) or len(piece) > 19:
                raise bad
            number = int(piece)
            if not 1 <= number <= MAX_ID:
                raise bad
            ids.append(number)
        return ids
    if isinstance(value, list) and not nested:
        return [i for item in value for i in _ids_of(item, field, nested=True)]
    raise bad


def _parse_count(fields: Fields, name: str, default: int, *, maximum: int) -> int:
    value = _last(fields, name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    text = value.strip() if isinstance(value, str) else ""
    if not _DIGITS.fullmatch(text) or len(text) > 10 or not 1 <= int(text) <= maximum:
        raise ParseError(
            f"invalid_{name}",
            f"The {name} parameter must be a whole number from 1.",
            name,
        )
    return int(text)
