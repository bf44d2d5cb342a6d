"""Guessing a site owner's password is slowed down like a member's."""

from typing import Any

import pytest
from django.test import Client

from membergate.members.models import Member

LOGIN = "/admin/login/?next=/admin/"


@pytest.fixture
def owner(db):
    return Member.objects.create_superuser("owner@example.com", "the right passphrase")


def sign_in(client: Client, password: str, email: str = "owner@example.com") -> Any:
    return client.post(LOGIN, {"username": email, "password": password})


def test_it_locks_the_account_after_repeated_failures(client, owner, settings):
    settings.SIGN_IN_MAX_FAILURES = 3
    for _ in range(3):
        assert "correct email" in sign_in(client, "guess").text

    answer = sign_in(client, "the right passphrase")

    assert answer.status_code == 200
    assert "Too many attempts. Try again in 15 minutes." in answer.text
    assert "_auth_user_id" not in client.session


def test_the_lock_covers_every_spelling_of_the_login(client, owner, settings):
    settings.SIGN_IN_MAX_FAILURES = 2
    sign_in(client, "guess", email="Owner@Example.com")
    sign_in(client, "guess", email=" owner@example.COM ")
    assert "Too many attempts" in sign_in(client, "the right passphrase").text


def test_a_success_before_the_limit_starts_the_count_afresh(client, owner, settings):
    settings.SIGN_IN_MAX_FAILURES = 3
    sign_in(client, "guess")
    sign_in(client, "guess")
    assert sign_in(client, "the right passphrase").status_code == 302
    client.logout()

    sign_in(client, "guess")
    sign_in(client, "guess")
    assert sign_in(client, "the right passphrase").status_code == 302
