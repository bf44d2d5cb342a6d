"""Turning an email text and a member into a message ready to send."""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import EmailMultiAlternatives
from django.template import (
    Context,
    Engine,
    Template,
    TemplateDoesNotExist,
    TemplateSyntaxError,
)
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.html import escape, linebreaks
from django.utils.http import urlsafe_base64_encode
from django.utils.safestring import mark_safe

from membergate.mail import defaults
from membergate.mail.models import EmailTemplate
from membergate.members.models import Member

logger = logging.getLogger(__name__)

# Owners' texts get an engine of their own: the built-in tags and filters,
# no loaders, so a text cannot include or load anything from the server.
_engine = Engine(dirs=[], app_dirs=False, loaders=[])

PLACEHOLDERS = {
    "site_name": "the site's name",
    "email": "the member's email, which is their login",
    "first_name": "the member's first name, possibly empty",
    "link": "the one-time link to set a password",
    "link_days": "the days before the link expires",
    "sign_in_url": "the members' sign-in page",
}


class InvalidText(ValueError):
    pass


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def texts_for(kind: str) -> tuple[str, str]:
    """The owner's subject and text for this kind, or the shipped ones."""
    row = EmailTemplate.objects.filter(kind=kind).values_list("subject", "body")
    found = row.first()
    return found if found is not None else defaults.TEXTS[kind]


def _compile(subject: str, body: str) -> tuple[Template, Template]:
    try:
        return _engine.from_string(subject), _engine.from_string(body)
    except (TemplateSyntaxError, TemplateDoesNotExist) as exc:
        raise InvalidText(str(exc)) from None


def _render_compiled(
    subject: Template, body: Template, context: dict[str, str]
) -> Rendered:
    try:
        subject_raw = subject.render(Context(context, autoescape=False))
        text = body.render(Context(context, autoescape=False))
    except (TemplateSyntaxError, TemplateDoesNotExist) as exc:
        raise InvalidText(str(exc)) from None
    # A header cannot hold a line break; a subject is one line.
    subject_out = " ".join(subject_raw.split())[:200]
    return Rendered(subject_out, text, _html(subject_out, text, context))


def _html(subject: str, text: str, context: dict[str, str]) -> str:
    """The text as HTML: escaped, in paragraphs, its two links clickable."""
    escaped = str(escape(text.strip()))
    for name in ("link", "sign_in_url"):
        url = escape(context.get(name, ""))
        if url:
            escaped = escaped.replace(url, f'<a href="{url}">{url}</a>')
    # Everything but the links built here from escaped URLs was escaped.
    paragraphs = mark_safe(linebreaks(escaped, autoescape=False))  # noqa: S308
    return render_to_string(
        "mail/email.html",
        {
            "subject": subject,
            "paragraphs": paragraphs,
            "link": context.get("link", ""),
            "site_name": context.get("site_name", ""),
        },
    )


def render(subject: str, body: str, context: dict[str, str]) -> Rendered:
    """Render a subject and text; raise InvalidText when they cannot be."""
    return _render_compiled(*_compile(subject, body), context)


def password_link(member: Member) -> str:
    uid = urlsafe_base64_encode(force_bytes(member.pk))
    token = default_token_generator.make_token(member)
    path = reverse("accounts:set_password", kwargs={"uidb64": uid, "token": token})
    return settings.BASE_URL + path


def context_for(member: Member, link: str) -> dict[str, str]:
    return {
        "site_name": settings.SITE_NAME,
        "email": member.email,
        "first_name": member.first_name,
        "link": link,
        "link_days": str(settings.PASSWORD_LINK_DAYS),
        "sign_in_url": settings.BASE_URL + reverse("accounts:sign_in"),
    }


def sample_context() -> dict[str, str]:
    """What the admin's preview fills the placeholders with."""
    return {
        "site_name": settings.SITE_NAME,
        "email": "ada@example.com",
        "first_name": "Ada",
        "link": settings.BASE_URL
        + reverse(
            "accounts:set_password", kwargs={"uidb64": "MQ", "token": "preview-link"}
        ),
        "link_days": str(settings.PASSWORD_LINK_DAYS),
        "sign_in_url": settings.BASE_URL + reverse("accounts:sign_in"),
    }


class Composer:
    """Builds the emails of one batch, reading and compiling each text once."""

    def __init__(self) -> None:
        self.compiled: dict[str, tuple[Template, Template]] = {}

    def _texts(self, kind: str) -> tuple[Template, Template]:
        if kind not in self.compiled:
            try:
                self.compiled[kind] = _compile(*texts_for(kind))
            except InvalidText as exc:
                # The admin refuses such texts; one stored some other way
                # must not keep members from their emails.
                logger.error(
                    "the %s email's text cannot be used (%s); sent the default",
                    kind,
                    exc,
                )
                self.compiled[kind] = _compile(*defaults.TEXTS[kind])
        return self.compiled[kind]

    def message(self, kind: str, member: Member) -> EmailMultiAlternatives:
        """The email of this kind for this member, with a fresh password link."""
        context = context_for(member, password_link(member))
        rendered = _render_compiled(*self._texts(kind), context)
        message = EmailMultiAlternatives(
            rendered.subject,
            rendered.text,
            settings.DEFAULT_FROM_EMAIL,
            [member.email],
        )
        message.attach_alternative(rendered.html, "text/html")
        return message
