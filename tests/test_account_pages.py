import re
import time
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.tokens import (
    PasswordResetTokenGenerator,
    default_token_generator,
)
from django.core import mail
from django.test import Client
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_tasks_db.models import DBTaskResult

from membergate.accounts.models import SignInFailures
from membergate.mail import sending
from membergate.mail.models import Delivery
from membergate.mail.services import enqueue_welcome_email
from membergate.members.models import Grant, Member
from tests.test_mail_delivery import run_worker

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def ada(db) -> Member:
    return Member.objects.create_user(
        "ada@example.com", password=PASSWORD, first_name="Ada"
    )


@pytest.fixture
def client() -> Client:
    return Client(REMOTE_ADDR="203.0.113.7")


def sign_in(client: Client, email: str, password: str):
    return client.post("/account/sign-in/", {"email": email, "password": password})


def link_for(member: Member) -> str:
    uid = urlsafe_base64_encode(force_bytes(member.pk))
    return f"/account/set-password/{uid}/{default_token_generator.make_token(member)}/"


def test_it_signs_in_with_email_and_password(client, ada):
    answer = sign_in(client, " ADA@example.com ", PASSWORD)
    assert (answer.status_code, answer["Location"]) == (302, "/account/")
    assert client.get("/account/").status_code == 200


def test_a_wrong_password_is_refused(client, ada):
    answer = sign_in(client, "ada@example.com", "wrong password")
    assert answer.status_code == 200
    assert "do not match an account" in answer.text
    assert client.get("/account/")["Location"].startswith("/account/sign-in/")


def test_an_unknown_email_gets_the_same_answer_as_a_wrong_password(client, db):
    answer = sign_in(client, "nobody@example.com", "wrong password")
    assert "do not match an account" in answer.text


def test_pages_need_signing_in(client, db):
    answer = client.get("/account/")
    assert answer.status_code == 302
    assert answer["Location"] == "/account/sign-in/?next=/account/"


def test_after_too_many_failures_the_password_is_not_checked(client, ada, settings):
    settings.SIGN_IN_MAX_FAILURES = 3
    settings.SIGN_IN_LOCK_MINUTES = 15
    for _ in range(3):
        assert sign_in(client, "ada@example.com", "guess").status_code == 200

    answer = sign_in(client, "ada@example.com", PASSWORD)

    assert answer.status_code == 429
    assert "Too many attempts. Try again in 15 minutes." in answer.text
    assert "_auth_user_id" not in client.session


def test_the_account_lock_holds_for_every_source_address(ada, settings):
    settings.SIGN_IN_MAX_FAILURES = 2
    for n in range(2):
        sign_in(Client(REMOTE_ADDR=f"198.51.100.{n}"), "ada@example.com", "guess")
    answer = sign_in(Client(REMOTE_ADDR="192.0.2.1"), "ada@example.com", PASSWORD)
    assert answer.status_code == 429


def test_one_source_address_is_slowed_down_across_accounts(client, ada, settings):
    settings.SIGN_IN_MAX_FAILURES = 2
    for n in range(8):
        sign_in(client, f"someone{n}@example.com", "guess")
    assert sign_in(client, "ada@example.com", PASSWORD).status_code == 429
    other = Client(REMOTE_ADDR="192.0.2.1")
    assert sign_in(other, "ada@example.com", PASSWORD).status_code == 302


def test_the_lock_ends_after_its_minutes(client, ada, settings):
    settings.SIGN_IN_MAX_FAILURES = 2
    settings.SIGN_IN_LOCK_MINUTES = 15
    for _ in range(2):
        sign_in(client, "ada@example.com", "guess")
    SignInFailures.objects.update(
        last_failure_at=timezone.now() - timedelta(minutes=15, seconds=1)
    )
    assert sign_in(client, "ada@example.com", PASSWORD).status_code == 302
    assert not SignInFailures.objects.filter(scope="account").exists()


def test_signing_out(client, ada):
    sign_in(client, "ada@example.com", PASSWORD)
    assert client.get("/account/sign-out/").status_code == 405
    answer = client.post("/account/sign-out/", follow=True)
    assert "You are signed out." in answer.text
    assert client.get("/account/").status_code == 302


def test_the_memberships_page_shows_only_active_grants(client, ada, make_membership):
    now = timezone.now()
    gold = make_membership("Gold")
    trial = make_membership("Trial", duration="days", duration_count=7)
    Grant.objects.create(
        member=ada, membership=gold, granted_at=now - timedelta(days=400)
    )
    Grant.objects.create(
        member=ada,
        membership=trial,
        granted_at=now - timedelta(days=2),
        expires_at=now + timedelta(days=5),
    )
    for title, fields in [
        ("Expired", {"expires_at": now - timedelta(days=1)}),
        ("Revoked", {"revoked_at": now}),
    ]:
        Grant.objects.create(
            member=ada,
            membership=make_membership(title),
            granted_at=now - timedelta(days=10),
            **fields,
        )
    someone = Member.objects.create_user("grace@example.com")
    Grant.objects.create(member=someone, membership=make_membership("Platinum"))
    sign_in(client, "ada@example.com", PASSWORD)

    page = client.get("/account/").text

    rows = re.findall(r"<tr>\s*<th scope=\"row\">(.*?)</th>(.*?)</tr>", page, re.S)
    assert [title for title, _ in rows] == ["Gold", "Trial"]
    gold_row, trial_row = (cells for _, cells in rows)
    assert f"{now - timedelta(days=400):%-d %b %Y}" in gold_row
    assert "No end date" in gold_row
    assert f"{now - timedelta(days=2):%-d %b %Y}" in trial_row
    assert f"{now + timedelta(days=5):%-d %b %Y}" in trial_row


def test_the_emailed_link_sets_a_password_and_signs_in(client, db):
    member = Member.objects.create_user("new@example.com")
    link = link_for(member)

    form = client.get(link, follow=True)
    assert form.status_code == 200
    assert "Set your password" in form.text
    # The token leaves the address bar before the form is shown.
    assert link not in form.redirect_chain[-1][0]
    new = "a brand new pass phrase"
    answer = client.post(
        form.redirect_chain[-1][0], {"new_password1": new, "new_password2": new}
    )

    assert (answer.status_code, answer["Location"]) == (302, "/account/")
    member.refresh_from_db()
    assert member.check_password(new)
    assert client.get("/account/").status_code == 200


def test_a_used_link_is_refused(client, db):
    member = Member.objects.create_user("new@example.com")
    link = link_for(member)
    member.set_password("first pass phrase here")
    member.save()

    answer = client.get(link, follow=True)

    assert "This link no longer works" in answer.text
    assert "new_password1" not in answer.text


def test_an_expired_link_is_refused(client, db, settings, monkeypatch):
    settings.PASSWORD_RESET_TIMEOUT = 3 * 24 * 3600
    member = Member.objects.create_user("new@example.com")
    link = link_for(member)
    assert "new_password1" in client.get(link, follow=True).text

    later = datetime.now() + timedelta(days=3, seconds=1)
    monkeypatch.setattr(PasswordResetTokenGenerator, "_now", lambda self: later)
    answer = Client().get(link, follow=True)

    assert "This link no longer works" in answer.text


def test_the_welcome_email_s_link_lasts_three_days_by_default(
    db, settings, monkeypatch
):
    # No override: these are the values a site runs with.
    assert settings.PASSWORD_LINK_DAYS == 3
    assert settings.PASSWORD_RESET_TIMEOUT == 3 * 86400
    made_at = datetime.now()
    enqueue_welcome_email(Member.objects.create_user("new@example.com"))
    sending.close_connections()
    run_worker()
    (message,) = mail.outbox
    assert "expires in 3 days" in message.body
    link = urlsplit(re.findall(r"\S+/account/set-password/\S+", str(message.body))[0])

    def opened_at(moment: datetime) -> str:
        monkeypatch.setattr(PasswordResetTokenGenerator, "_now", lambda self: moment)
        return str(Client().get(link.path, follow=True).text)

    just_before = opened_at(made_at + timedelta(days=3, minutes=-1))
    assert "new_password1" in just_before
    just_after = opened_at(made_at + timedelta(days=3, minutes=1))
    assert "This link no longer works" in just_after
    assert "new_password1" not in just_after


def test_a_link_request_answers_the_same_for_known_and_unknown_emails(client, ada):
    known = client.post("/account/new-link/", {"email": "ada@example.com"})
    unknown = client.post("/account/new-link/", {"email": "nobody@example.com"})

    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"] == "/account/new-link/sent/"
    # Both requests did the same work: one task each, no look-up.
    assert DBTaskResult.objects.count() == 2
    assert not Delivery.objects.exists()

    sending.close_connections()
    run_worker()
    (message,) = mail.outbox
    assert message.to == ["ada@example.com"]
    assert "/account/set-password/" in message.body


def test_a_link_request_takes_the_same_time_for_known_and_unknown_emails(client, ada):
    def timed(email: str) -> float:
        started = time.perf_counter()
        client.post("/account/new-link/", {"email": email})
        return time.perf_counter() - started

    known = min(timed("ada@example.com") for _ in range(15))
    unknown = min(timed("nobody@example.com") for _ in range(15))
    assert abs(known - unknown) < 0.005


def test_link_requests_cannot_flood_an_inbox(client, ada):
    for _ in range(5):
        client.post("/account/new-link/", {"email": "ada@example.com"})
    run_worker()
    assert len(mail.outbox) == 3


def test_a_malformed_email_is_refused_with_a_clear_error(client, db):
    answer = client.post("/account/new-link/", {"email": "not an email"})
    assert answer.status_code == 200
    assert "Enter a valid email address." in answer.text
    assert not DBTaskResult.objects.exists()


@pytest.mark.parametrize(
    "path", ["/account/sign-in/", "/account/new-link/", "/account/new-link/sent/"]
)
def test_pages_load_nothing_from_elsewhere_and_run_no_script(client, db, path):
    answer = client.get(path)
    assert answer.status_code == 200
    policy = answer["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "<script" not in answer.text
    assert "style=" not in answer.text
    assert re.findall(r'(?:href|src)="(https?:)?//', answer.text) == []
    assert '<meta name="viewport"' in answer.text


def test_the_stylesheet_is_served(client, db):
    answer = client.get("/static/accounts/account.css")
    assert answer.status_code == 200
    assert b"@media" in b"".join(answer.streaming_content)


def test_form_fields_have_labels(client, db):
    page = client.get("/account/sign-in/").text
    for field in ("id_email", "id_password"):
        assert f'<label for="{field}">' in page
        assert f'id="{field}"' in page
