"""The one normal form of an email address that Membergate stores."""

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

_validate = EmailValidator()


class InvalidEmail(ValueError):
    pass


def normalize_email(raw: str) -> str:
    """Return the stored form of an address, or raise InvalidEmail.

    White space around it is dropped, the domain is written in its ASCII
    (IDNA) form and the whole address is lower-cased. Every address is then
    plain ASCII, so Python and both databases agree on what "lower case"
    means, and the unique index on the column makes addresses unique
    case-insensitively.
    """
    email = raw.strip()
    local, at, domain = email.rpartition("@")
    if not at or not local or not domain:
        raise InvalidEmail(raw)
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidEmail(raw) from None
    email = f"{local}@{domain}".lower()
    try:
        _validate(email)
    except ValidationError:
        raise InvalidEmail(raw) from None
    if not email.isascii():
        raise InvalidEmail(raw)
    return email
