"""Arbitrary input must never break the incoming API or half-apply a request.

Two kinds of fuzzing, both bounded to a few hundred examples:

- hypothesis throws arbitrary bodies, content types and query strings at the
  three actions through Django's test client, and checks each answer against
  the database: no 5xx, an error changes nothing, a success shows what is
  stored;
- schemathesis generates requests from the live server's own OpenAPI schema
  and checks that no answer is a 5xx and that every answer conforms to it.
"""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from membergate.members.models import Grant, Member
from tests.api_helpers import (
    BASES,
    active_ids,
    make_known_memberships,
    send,
    snapshot,
)
from tests.service import Service

pytestmark = pytest.mark.slow

FIELDS = ("email", "first_name", "last_name", "notify", "memberships", "membership_id")
ACTIONS = ("/members", "/members/add-membership", "/members/remove-membership")
CONTENT_TYPES = (
    None,
    "application/json",
    "APPLICATION/JSON; charset=utf-8",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=fuzzboundary",
    "multipart/form-data",
    "text/plain",
    "application/xml",
    "application/octet-stream",
    "text/html; charset=latin-1",
)
EMAILS = (
    "ada@example.com",
    " ADA@Example.com ",
    "grace@example.com",
    "",
    "not an email",
    "ada@@example.com",
    "ümlaut@exämple.com",
    "a" * 300 + "@example.com",
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)
field_values = (
    st.sampled_from(EMAILS)
    | st.sampled_from(("1", "2", "3", "1,2", "1, 3,", "999", "true", "off", "x"))
    | st.text(max_size=40)
    | json_values
)
field_names = st.sampled_from(FIELDS) | st.sampled_from(
    ("memberships[]", "memberships[0]", "memberships[1]")
)
fields = st.dictionaries(field_names, field_values, max_size=6)


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def form_body(data: dict[str, Any]) -> str:
    return urlencode({k: as_text(v) for k, v in data.items()})


def multipart_body(data: dict[str, Any]) -> str:
    parts = [
        f'--fuzzboundary\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n'
        f"{as_text(v)}\r\n"
        for k, v in data.items()
    ]
    return "".join(parts) + "--fuzzboundary--\r\n"


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    shape = draw(st.sampled_from(("json", "wrapped", "form", "multipart", "raw")))
    data = draw(fields)
    if shape == "json":
        return json.dumps(data).encode()
    if shape == "wrapped":
        return json.dumps([data]).encode()
    if shape == "form":
        return form_body(data).encode()
    if shape == "multipart":
        return multipart_body(data).encode()
    return draw(st.binary(max_size=200))


queries = st.lists(
    st.tuples(field_names, st.text(max_size=20) | st.sampled_from(EMAILS)),
    max_size=4,
).map(urlencode) | st.text(max_size=40)


@pytest.mark.django_db
@settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
)
@given(
    base=st.sampled_from(BASES),
    action=st.sampled_from(ACTIONS),
    method=st.sampled_from(("POST", "PUT")),
    content_type=st.sampled_from(CONTENT_TYPES),
    body=bodies() | st.just(b""),
    query=queries,
)
def test_arbitrary_requests_get_no_5xx_and_are_applied_whole_or_not_at_all(
    client, api_key, base, action, method, content_type, body, query
):
    if not Member.objects.filter(is_staff=False).exists():
        make_known_memberships()
        seeded = Member.objects.create_user("ada@example.com", first_name="Ada")
        Grant.objects.create(member=seeded, membership_id=1)
    _, key = api_key
    before = snapshot()

    response = send(
        client,
        method,
        f"{base}{action}",
        query=query,
        body=body,
        content_type=content_type,
        headers={"X-API-Key": key},
    )

    assert response.status_code < 500, response.content
    answer = response.json()
    if response.status_code >= 400:
        assert answer["data"]["status"] == response.status_code
        assert isinstance(answer["code"], str)
        assert snapshot() == before
    else:
        member = answer["data"]["member"]
        stored = Member.objects.get(pk=member["id"])
        assert stored.email == member["email"]
        assert (stored.first_name, stored.last_name) == (
            member["first_name"],
            member["last_name"],
        )
        assert {m["id"] for m in member["memberships"]} == active_ids(stored.email)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Service]:
    with Service(tmp_path / "data") as service:
        service.start("--no-worker")
        for title in ("Gold", "Silver", "Bronze"):
            service.membergate("membership", "create", "--title", title)
        yield service


def test_every_answer_to_schema_generated_requests_conforms(live):
    auth = {"X-API-Key": live.api_key}
    schema = schemathesis.openapi.from_url(
        f"{live.base_url}/api/v1/openapi.json", headers=auth, timeout=30
    )
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()
        operations.append(result.ok())
    assert operations, "the schema lists no operations"
    examples = max(20, 300 // len(operations))
    # Paths may be written whole or relative to a server in the schema.
    servers = schema.raw_schema.get("servers") or [{"url": ""}]
    prefix = servers[0]["url"] if servers[0]["url"].startswith("/") else ""
    base_url = live.base_url + prefix.rstrip("/")

    for operation in operations:

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate],
        )
        @given(case=operation.as_strategy())
        def conforms(case: Any) -> None:
            response = case.call(base_url=base_url, headers=auth, timeout=30)
            case.validate_response(response, checks=checks, headers=auth)

        conforms()
