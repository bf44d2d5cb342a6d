"""Masking secrets before a request is stored in the request log.

Fields and headers with secret names are masked by name; then every secret
value seen anywhere in the request is replaced wherever it appears, in its
plain, URL-encoded and JSON-escaped spellings. The second pass catches a key
inside a body too broken to parse, or pasted into the wrong field.
"""

import json
import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote, quote_plus

MASK = "********"
# Shorter values are left alone: masking "1" everywhere would garble the log
# and a key that short is no secret anyway.
MIN_SECRET_LENGTH = 6

SECRET_HEADERS = {
    "authorization",
    "proxy-authorization",
    "x-opm-api-key",
    "x-api-key",
    "cookie",
}
_SECRET_NAME = re.compile(r"(api[_-]?key|password|secret|token|auth)", re.IGNORECASE)


def is_secret_name(name: str) -> bool:
    return name.lower() in SECRET_HEADERS or bool(_SECRET_NAME.search(name))


def header_secrets(headers: Mapping[str, str]) -> list[str]:
    found = []
    for name, value in headers.items():
        if is_secret_name(name) and value:
            found.append(value)
            scheme, _, token = value.partition(" ")
            if token and scheme.lower() in ("bearer", "basic", "token"):
                found.append(token.strip())
    return found


def field_secrets(fields: Mapping[str, Iterable[object]]) -> list[str]:
    return [
        value
        for name, values in fields.items()
        if is_secret_name(name)
        for value in values
        if isinstance(value, str) and value
    ]


def mask_headers(headers: Mapping[str, str], secrets: Iterable[str]) -> dict[str, str]:
    secrets = list(secrets)
    return {
        name: MASK if is_secret_name(name) else mask_text(value, secrets)
        for name, value in headers.items()
    }


def mask_text(text: str, secrets: Iterable[str]) -> str:
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) < MIN_SECRET_LENGTH:
            continue
        for spelling in _spellings(secret):
            text = text.replace(spelling, MASK)
    return text


def _spellings(secret: str) -> set[str]:
    return {
        secret,
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
    }


_JSON_MEMBER = re.compile(r'"([^"\\]{1,100})"(\s*:\s*)"((?:[^"\\]|\\.)*)"')


def mask_json_members(text: str) -> str:
    """Mask the string values of secret-named members in JSON text, even
    text too broken to parse."""

    def replace(match: re.Match[str]) -> str:
        name, colon, _ = match.groups()
        return f'"{name}"{colon}"{MASK}"' if is_secret_name(name) else match.group(0)

    return _JSON_MEMBER.sub(replace, text)


_PAIR = re.compile(r"(^|&)([^&=]*)=([^&]*)")


def mask_pairs(text: str) -> str:
    """Mask the values of secret-named fields in ``a=1&b=2`` text."""

    def replace(match: re.Match[str]) -> str:
        start, name, _ = match.groups()
        return f"{start}{name}={MASK}" if is_secret_name(name) else match.group(0)

    return _PAIR.sub(replace, text)
