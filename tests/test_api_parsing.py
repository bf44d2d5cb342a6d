"""The one parser of what senders send: every accepted shape, every refusal."""

import json

import pytest
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from hypothesis import given
from hypothesis import strategies as st

from membergate.api.parsing import (
    Command,
    ParseError,
    UnsupportedMediaType,
    parse_command,
    parse_member_id,
    parse_member_query,
    read_fields,
)

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def command(
    query: str = "",
    content_type: str = "",
    body: bytes = b"",
    *,
    needs_memberships: bool = False,
) -> Command:
    fields = read_fields(query, content_type, body)
    return parse_command(fields, needs_memberships=needs_memberships)


def refusal(
    query: str = "",
    content_type: str = "",
    body: bytes = b"",
    *,
    needs_memberships: bool = False,
) -> tuple[str, str | None]:
    with pytest.raises(ParseError) as caught:
        command(query, content_type, body, needs_memberships=needs_memberships)
    return caught.value.code, caught.value.field


@pytest.mark.parametrize(
    ("query", "content_type", "body", "ids"),
    [
        ("memberships=1,2,3", "", b"", (1, 2, 3)),
        ("memberships=1, 2 ,3,", "", b"", (1, 2, 3)),
        ("memberships=7", "", b"", (7,)),
        ("memberships=1&memberships=2", "", b"", (1, 2)),
        ("memberships[]=1&memberships[]=2", "", b"", (1, 2)),
        ("memberships[0]=4&memberships[1]=5", "", b"", (4, 5)),
        ("membership_id=3", "", b"", (3,)),
        ("memberships=1,2&membership_id=2", "", b"", (1, 2)),
        ("memberships=", "", b"", ()),
        ("", JSON, b'{"memberships": [1, "2", 3]}', (1, 2, 3)),
        ("", JSON, b'{"memberships": "4,5"}', (4, 5)),
        ("", JSON, b'{"memberships": 6}', (6,)),
        ("", JSON, b'{"memberships": null}', ()),
        ("", JSON, b'{"membership_id": "8"}', (8,)),
        ("", FORM, b"memberships%5B%5D=1&memberships%5B%5D=9", (1, 9)),
    ],
)
def test_it_reads_memberships_in_every_form(query, content_type, body, ids):
    got = command(f"email=a@example.com&{query}", content_type, body)
    assert got.membership_ids == ids


@pytest.mark.parametrize(
    "value",
    [
        b'{"memberships": [2.0]}',
        b'{"memberships": true}',
        b'{"memberships": [true]}',
        b'{"memberships": 0}',
        b'{"memberships": -1}',
        b'{"memberships": [[1]]}',
        b'{"memberships": {"0": 1}}',
        b'{"memberships": "1,two"}',
        b'{"memberships": "+1"}',
        b'{"memberships": "\\u0663"}',
        b'{"memberships": 9223372036854775808}',
    ],
)
def test_it_refuses_what_is_not_a_membership_id(value):
    assert refusal("email=a@example.com", JSON, value) == (
        "invalid_memberships",
        "memberships",
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", True),
        ("TRUE", True),
        ("Yes", True),
        ("on", True),
        ("0", False),
        ("false", False),
        ("NO", False),
        ("off", False),
        ("", False),
    ],
)
def test_notify_takes_every_yes_and_no(raw, expected):
    assert command(f"email=a@example.com&notify={raw}").notify is expected


@pytest.mark.parametrize("body", [b'{"notify": true}', b'{"notify": 1}'])
def test_notify_takes_json_true_and_one(body):
    assert command("email=a@example.com", JSON, body).notify is True


@pytest.mark.parametrize("raw", ["maybe", "2", "y"])
def test_notify_refuses_anything_else(raw):
    assert refusal(f"email=a@example.com&notify={raw}") == ("invalid_notify", "notify")


def test_the_body_wins_over_the_query():
    got = command(
        "email=query@example.com&first_name=Q",
        JSON,
        b'{"email": "Body@Example.com"}',
    )
    assert (got.email, got.first_name) == ("body@example.com", "Q")


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b'{"email": "a@example.com"}'),
        ("Application/JSON; charset=UTF-8", b'{"email": "a@example.com"}'),
        ("application/vnd.api+json", b'{"email": "a@example.com"}'),
        ("application/json", b'[{"email": "a@example.com"}]'),
        ("", b'{"email": "a@example.com"}'),
        ("text/plain", b' {"email": "a@example.com"}'),
        ("text/plain; charset=utf-8", b'[{"email": "a@example.com"}]'),
        (FORM, b"email=a%40example.com"),
        ("Application/X-WWW-Form-Urlencoded; charset=UTF-8", b"email=a@example.com"),
        (MULTIPART_CONTENT, encode_multipart(BOUNDARY, {"email": "a@example.com"})),
    ],
)
def test_it_reads_every_body_format(content_type, body):
    assert command("", content_type, body).email == "a@example.com"


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/xml", b"<email>a@example.com</email>"),
        ("text/plain", b"email=a@example.com"),
        ("", b"email a@example.com"),
        ("text/csv", b"a@example.com"),
    ],
)
def test_it_refuses_bodies_in_other_formats(content_type, body):
    with pytest.raises(UnsupportedMediaType):
        read_fields("", content_type, body)


@pytest.mark.parametrize(
    "body",
    [b"{", b'{"email": }', b"[]", b"[1, 2]", b'"text"', b"[" * 100_000, b"\xff{"],
)
def test_broken_json_is_invalid_json(body):
    assert refusal("", JSON, body)[0] == "invalid_json"


@pytest.mark.parametrize(
    ("query", "content_type", "body"),
    [
        ("email=a@example.com&first_name=J%FCrgen", "", b""),
        ("", FORM, b"email=a@example.com&first_name=J%FCrgen"),
        ("", FORM, b"email=a@example.com&first_name=J\xfcrgen"),
        ("email=a@example.com&first_name=%ff%fe", "", b""),
        (
            "",
            MULTIPART_CONTENT,
            encode_multipart(
                BOUNDARY, {"email": "a@example.com", "first_name": "Ü"}
            ).replace("Ü".encode(), "Ü".encode("latin-1")),
        ),
    ],
)
def test_text_that_is_not_utf_8_is_refused_not_garbled(query, content_type, body):
    assert refusal(query, content_type, body) == ("invalid_body", None)


def test_a_replacement_character_sent_as_utf_8_is_kept():
    fields = {"email": "a@example.com", "first_name": "J\ufffdrgen"}
    body = encode_multipart(BOUNDARY, fields)
    assert command("", MULTIPART_CONTENT, body).first_name == "J\ufffdrgen"


def test_percent_escaped_utf_8_is_read():
    assert command("email=a@example.com&first_name=J%C3%BCrgen").first_name == "Jürgen"


def test_email_is_trimmed_and_lower_cased():
    assert command("email=%20Ada@EXAMPLE.com%20").email == "ada@example.com"


@pytest.mark.parametrize(
    ("query", "body", "expected"),
    [
        ("", b"", ("missing_email", "email")),
        ("email=", b"", ("missing_email", "email")),
        ("email=%20%20", b"", ("missing_email", "email")),
        ("email=nobody", b"", ("invalid_email", "email")),
        ("email=a@b@c", b"", ("invalid_email", "email")),
        ("", b'{"email": 5}', ("invalid_email", "email")),
        ("", b'{"email": ["a@example.com"]}', ("invalid_email", "email")),
        ("email=" + "a" * 250 + "@example.com", b"", ("invalid_email", "email")),
    ],
)
def test_it_refuses_missing_and_invalid_emails(query, body, expected):
    assert refusal(query, JSON, body) == expected


def test_names_are_trimmed_and_empty_means_not_given():
    got = command("email=a@example.com&first_name=%20Ada%20&last_name=")
    assert (got.first_name, got.last_name) == ("Ada", "")


@pytest.mark.parametrize(
    "body",
    [
        json.dumps({"first_name": "x" * 151}).encode(),
        b'{"first_name": 3}',
        b'{"first_name": "a\\u0000b"}',
        b'{"first_name": "\\ud800"}',
    ],
)
def test_it_refuses_names_it_cannot_store(body):
    assert refusal("email=a@example.com", JSON, body) == ("invalid_name", "first_name")


def test_a_name_of_150_characters_is_taken():
    assert len(command(f"email=a@example.com&last_name={'x' * 150}").last_name) == 150


def test_add_and_remove_need_a_membership():
    assert refusal("email=a@example.com", needs_memberships=True) == (
        "invalid_memberships",
        "membership_id",
    )


def test_dry_run_is_a_flag_like_notify():
    assert command("email=a@example.com&dry_run=1").dry_run is True
    assert refusal("email=a@example.com&dry_run=please")[0] == "invalid_dry_run"


def test_the_member_list_is_paged_within_limits():
    assert parse_member_query("") == parse_member_query("page=1&per_page=20")
    assert parse_member_query("per_page=500").per_page == 100
    assert parse_member_query("email=%20A@Example.com").email == "a@example.com"
    for bad in ("page=0", "page=x", "per_page=-1", "per_page=1.5"):
        with pytest.raises(ParseError):
            parse_member_query(bad)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("12", 12), ("x", None), ("1.0", None), ("\u0663", None), ("9" * 30, None)],
)
def test_member_ids_in_the_url(raw, expected):
    assert parse_member_id(raw) == expected


_text = st.text(max_size=40)
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | _text,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4)
    ),
    max_leaves=12,
)
_field_names = st.sampled_from(
    ["email", "first_name", "last_name", "notify", "memberships", "membership_id",
     "memberships[]", "dry_run", "other"]
)  # fmt: skip


@given(
    query=st.lists(st.tuples(_field_names, _text), max_size=6).map(
        lambda pairs: "&".join(f"{k}={v}" for k, v in pairs)
    ),
    content_type=st.sampled_from(
        ["", JSON, "text/plain", FORM, MULTIPART_CONTENT, "application/xml"]
    ),
    body=st.one_of(
        st.binary(max_size=200),
        st.dictionaries(_field_names, _json_values, max_size=6).map(
            lambda d: json.dumps(d).encode()
        ),
    ),
    needs_memberships=st.booleans(),
)
def test_any_input_gives_a_command_or_a_refusal(
    query, content_type, body, needs_memberships
):
    try:
        result = command(query, content_type, body, needs_memberships=needs_memberships)
    except (ParseError, UnsupportedMediaType):
        return
    assert isinstance(result, Command)
    assert result.email == result.email.strip().lower()
    assert all(isinstance(i, int) and i >= 1 for i in result.membership_ids)


@given(
    boundary=st.sampled_from(["", "x", BOUNDARY, "a b", "\u00e9"]),
    extra=st.sampled_from(["", "; charset=nope", "; charset=utf-8"]),
    body=st.one_of(
        st.binary(max_size=300),
        st.dictionaries(_field_names, _text, max_size=4).map(
            lambda d: encode_multipart(BOUNDARY, d)
        ),
        st.binary(max_size=100).map(
            lambda b: encode_multipart(BOUNDARY, {"email": "a@x.org"})[:-20] + b
        ),
    ),
)
def test_any_multipart_body_gives_fields_or_a_refusal(boundary, extra, body):
    content_type = f"multipart/form-data; boundary={boundary}{extra}"
    try:
        fields = read_fields("", content_type, body)
    except ParseError:
        return
    assert all(isinstance(v, str) for values in fields.values() for v in values)
