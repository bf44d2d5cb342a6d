"""How the OpenAPI schema describes the API.

The endpoints read the raw request through ``parsing`` (no framework
parses a body the way senders send it), so parameters, bodies and answers
are described here by hand.
"""

from typing import Any

type Schema = dict[str, Any]

SECURITY_SCHEMES: Schema = {
    "queryKey": {"type": "apiKey", "in": "query", "name": "opm_api_key"},
    "opmHeader": {"type": "apiKey", "in": "header", "name": "X-OPM-API-KEY"},
    "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "bearer": {"type": "http", "scheme": "bearer"},
}
SECURITY: list[Schema] = [{name: []} for name in SECURITY_SCHEMES]

_ERROR: Schema = {
    "type": "object",
    "required": ["code", "message", "data"],
    "properties": {
        "code": {"type": "string"},
        "message": {"type": "string"},
        "data": {
            "type": "object",
            "required": ["status"],
            "properties": {
                "status": {"type": "integer"},
                "field": {"type": "string"},
                "ids": {"type": "array", "items": {"type": "integer"}},
            },
        },
    },
}
_GRANT: Schema = {
    "type": "object",
    "required": ["id", "title", "granted_at", "expires_at"],
    "properties": {
        "id": {"type": "integer"},
        "title": {"type": "string"},
        "granted_at": {"type": "string", "format": "date-time"},
        "expires_at": {"type": ["string", "null"], "format": "date-time"},
    },
}
_MEMBER: Schema = {
    "type": "object",
    "required": ["id", "email", "first_name", "last_name", "memberships"],
    "properties": {
        "id": {"type": ["integer", "null"]},
        "email": {"type": "string"},
        "first_name": {"type": "string"},
        "last_name": {"type": "string"},
        "memberships": {"type": "array", "items": _GRANT},
    },
}
_MEMBERSHIP: Schema = {
    "type": "object",
    "required": ["id", "title", "duration", "access", "active_members"],
    "properties": {
        "id": {"type": "integer"},
        "title": {"type": "string"},
        "duration": {
            "type": "string",
            "enum": ["lifetime", "days", "weeks", "months", "years", "until"],
        },
        "duration_count": {"type": ["integer", "null"]},
        "ends_at": {"type": ["string", "null"], "format": "date-time"},
        "access": {"type": "string"},
        "archived": {"type": "boolean"},
        "active_members": {"type": "integer"},
    },
}
_CHANGE: Schema = {
    "type": "object",
    "required": [
        "created",
        "member",
        "memberships_added",
        "memberships_removed",
        "notified",
    ],
    "properties": {
        "created": {"type": "boolean"},
        "member": _MEMBER,
        "memberships_added": {"type": "array", "items": {"type": "integer"}},
        "memberships_removed": {"type": "array", "items": {"type": "integer"}},
        "notified": {"type": "boolean"},
        "dry_run": {"type": "boolean"},
    },
}


def _ok(data: Schema, description: str) -> Schema:
    return {
        "description": description,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["status", "data"],
                    "properties": {"status": {"type": "integer"}, "data": data},
                }
            }
        },
    }


def _error(description: str) -> Schema:
    return {
        "description": description,
        "content": {"application/json": {"schema": _ERROR}},
    }


# Status codes as numbers, as django-ninja writes its own default 200: as
# strings, each would sit beside it, and Swagger UI refuses the schema's
# duplicate "200".
_KEY_ERRORS: dict[int, Schema] = {
    401: _error("missing_api_key or invalid_api_key"),
    429: {
        **_error("rate_limited: too many requests or failed keys"),
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
    },
}

_IDS: Schema = {
    "oneOf": [
        {"type": "array", "items": {"type": ["integer", "string"]}},
        {"type": "string"},
        {"type": "integer"},
    ]
}
_FLAG: Schema = {"type": ["string", "integer", "boolean"]}
_FIELDS: Schema = {
    "email": {"type": "string", "format": "email", "maxLength": 254},
    "first_name": {"type": "string", "maxLength": 150},
    "last_name": {"type": "string", "maxLength": 150},
    "notify": _FLAG,
    "memberships": _IDS,
    "membership_id": {"type": ["integer", "string"]},
    "dry_run": _FLAG,
}
_FORM_FIELDS: Schema = {
    name: {"type": "string"} for name in _FIELDS if name != "email"
} | {"email": {"type": "string", "format": "email"}}


def change(summary: str, description: str, *, creates: bool) -> Schema:
    """The description of a create, add or remove."""
    required = ["email"] if creates else ["email", "membership_id"]
    body_schema = {"type": "object", "properties": _FIELDS, "required": ["email"]}
    form_schema = {"type": "object", "properties": _FORM_FIELDS, "required": required}
    responses: dict[int, Schema] = {
        200: _ok(_CHANGE, "Done (or, for a create, the member existed)."),
        400: _error(
            "Bad input (missing_email, invalid_email, invalid_name, "
            "invalid_notify, invalid_memberships, invalid_json, ...) or "
            "unknown_membership"
        ),
        **_KEY_ERRORS,
        405: _error("method_not_allowed"),
        413: _error("payload_too_large: a body over 64 KiB"),
        415: _error("unsupported_media_type"),
        422: _error("idempotency_key_reused"),
    }
    if creates:
        responses[201] = _ok(_CHANGE, "The member was created.")
    else:
        responses[404] = _error("member_not_found")
    return {
        "summary": summary,
        "description": description,
        "security": SECURITY,
        "parameters": [
            {
                "name": name,
                "in": "query",
                "required": False,
                "schema": schema,
            }
            for name, schema in _FIELDS.items()
        ]
        + [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "maxLength": 255},
            }
        ],
        "requestBody": {
            "required": False,
            "content": {
                "application/json": {"schema": body_schema},
                "application/x-www-form-urlencoded": {"schema": form_schema},
                "multipart/form-data": {"schema": form_schema},
            },
        },
        "responses": responses,
    }


def read(summary: str, data: Schema, parameters: list[Schema]) -> Schema:
    return {
        "summary": summary,
        "security": SECURITY,
        "parameters": parameters,
        "responses": {
            200: _ok(data, summary),
            400: _error("Bad parameters"),
            404: _error("member_not_found"),
            **_KEY_ERRORS,
        },
    }


LIST_MEMBERSHIPS = read("Every membership", {"type": "array", "items": _MEMBERSHIP}, [])
LIST_MEMBERS = read(
    "Members, a page at a time",
    {
        "type": "object",
        "required": ["members", "page", "per_page", "total", "total_pages"],
        "properties": {
            "members": {"type": "array", "items": _MEMBER},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
            "total": {"type": "integer"},
            "total_pages": {"type": "integer"},
        },
    },
    [
        {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
        {
            "name": "per_page",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": 100},
        },
        {"name": "email", "in": "query", "schema": {"type": "string"}},
    ],
)
GET_MEMBER = read(
    "One member",
    _MEMBER,
    [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
)
