import pytest
from django.db import IntegrityError, connection, transaction

from membergate.members.emails import InvalidEmail, normalize_email
from membergate.members.models import Member


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Ada@Example.COM ", "ada@example.com"),
        ("ada+zap@example.com\n", "ada+zap@example.com"),
        ("ada@bücher.example", "ada@xn--bcher-kva.example"),
    ],
)
def test_it_normalizes_emails(raw, expected):
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "ada", "ada@", "@example.com", "ada@@example.com", "a da@example.com"]
)
def test_it_refuses_invalid_emails(raw):
    with pytest.raises(InvalidEmail):
        normalize_email(raw)


def test_the_database_refuses_a_second_member_with_the_same_email(member):
    with pytest.raises(IntegrityError), transaction.atomic():
        Member.objects.create(email=member.email)


def test_the_database_refuses_an_email_that_is_not_lower_case(db):
    """An insert that bypasses the ORM cannot sneak in a case variant."""
    Member.objects.create_user("grace@example.com")
    with (
        pytest.raises(IntegrityError),
        transaction.atomic(),
        connection.cursor() as cur,
    ):
        cur.execute(
            "INSERT INTO members_member (email, password, first_name, last_name,"
            " is_active, is_staff, is_superuser, date_joined)"
            " VALUES ('Grace@Example.com', '!', '', '', TRUE, FALSE, FALSE,"
            " CURRENT_TIMESTAMP)"
        )
    assert Member.objects.count() == 1


def insert_member(email: str) -> None:
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO members_member (email, password, first_name, last_name,"
            " is_active, is_staff, is_superuser, date_joined)"
            " VALUES (%s, '!', '', '', TRUE, FALSE, FALSE, CURRENT_TIMESTAMP)",
            [email],
        )


@pytest.mark.parametrize("email", ["Ä@x.org", "ä@x.org", "ada@bücher.example"])
def test_the_database_refuses_an_email_that_is_not_ascii(db, email):
    """Lower case is the same everywhere only in ASCII: 'Ä' beside 'ä'."""
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_member(email)
    insert_member("ada@xn--bcher-kva.example")
    assert list(Member.objects.values_list("email", flat=True)) == [
        "ada@xn--bcher-kva.example"
    ]


def test_members_sign_in_by_email_in_any_case(db):
    Member.objects.create_user("Lin@Example.com", password="a long pass phrase")
    assert (
        Member.objects.get_by_natural_key(" LIN@example.com ").email
        == "lin@example.com"
    )
