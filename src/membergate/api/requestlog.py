"""Writing the request log: every API call, its secrets masked."""

import json
import time
from typing import TYPE_CHECKING

from membergate.api.answers import Answer
from membergate.api.masking import (
    field_secrets,
    header_secrets,
    mask_headers,
    mask_json_members,
    mask_pairs,
    mask_text,
)
from membergate.api.models import RequestLog
from membergate.api.parsing import media_type, parse_query
from membergate.core import rows

if TYPE_CHECKING:
    from membergate.api.pipeline import Call


def write_log(call: "Call", answer: Answer) -> RequestLog:
    secrets = _secrets(call)
    body = call._body if call._body_read else None
    entry = RequestLog(
        created_at=call.received_at,
        request_id=call.request_id,
        action=call.action,
        method=_clean(call.method, 10),
        path=_clean(call.path, 500),
        query=_clean(mask_text(mask_pairs(call.query_string), secrets)),
        headers={
            _clean(k, 200): _clean(v, 2000)
            for k, v in mask_headers(call.headers, secrets).items()
        },
        content_type=_clean(call.content_type, 200),
        body=_clean(_masked_body(call.content_type, body, secrets)),
        source_ip=call.source_ip,
        api_key=call.api_key,
        key_name=call.api_key.name if call.api_key else "",
        email=call.email,
        status_code=answer.status,
        error_code=answer.error_code,
        response=json.loads(mask_text(json.dumps(answer.payload), secrets)),
        duration_ms=round((time.perf_counter() - call.started) * 1000, 3),
        idempotency_key=_clean(call.headers.get("idempotency-key", ""), 255),
        dry_run=call.dry_run,
        replayed=call.replayed,
        resent_from=call.resent_from,
        resent_by=call.resent_by,
    )
    return rows.insert(entry)


def _secrets(call: "Call") -> list[str]:
    found = header_secrets(call.headers)
    found += field_secrets(_query_fields(call.query_string))
    found += field_secrets(call.parsed_fields())
    if call.secret:
        found.append(call.secret)
    return found


def _query_fields(query_string: str) -> dict[str, list[object]]:
    fields: dict[str, list[object]] = {}
    try:
        # Leniently: a refused query string's key must be masked too.
        pairs = parse_query(query_string, errors="replace")
    except Exception:
        return fields
    for name, value in pairs:
        fields.setdefault(name, []).append(value)
    return fields


def _masked_body(content_type: str, body: bytes | None, secrets: list[str]) -> str:
    if body is None:
        return ""
    text = body.decode("utf-8", "replace")
    if media_type(content_type) == "application/x-www-form-urlencoded":
        text = mask_pairs(text)
    elif "{" in text:
        text = mask_json_members(text)
    return mask_text(text, secrets)


def _clean(text: str, limit: int | None = None) -> str:
    """Text both databases store: no NUL, no lone surrogates."""
    text = text.replace("\x00", "\ufffd")
    text = text.encode("utf-8", "replace").decode("utf-8")
    return text if limit is None else text[:limit]
