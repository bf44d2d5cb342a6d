import subprocess
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from membergate import conf
from tests.service import MEMBERGATE


@pytest.mark.parametrize("value", ["maybe", "2", "yes please", "tru"])
def test_it_refuses_a_bool_that_is_not_yes_or_no(monkeypatch, value):
    monkeypatch.setenv("MEMBERGATE_DEBUG", value)
    with pytest.raises(ImproperlyConfigured, match="MEMBERGATE_DEBUG"):
        conf.env_bool("MEMBERGATE_DEBUG", False)


@pytest.mark.parametrize(
    ("value", "expected"), [("ON", True), ("0", False), ("", False)]
)
def test_it_reads_bools_in_any_case(monkeypatch, value, expected):
    monkeypatch.setenv("MEMBERGATE_DEBUG", value)
    assert conf.env_bool("MEMBERGATE_DEBUG", False) is expected


@pytest.mark.parametrize("value", ["eighty", "0", "70000", "1.5"])
def test_it_refuses_bad_whole_numbers(monkeypatch, value):
    monkeypatch.setenv("MEMBERGATE_PORT", value)
    with pytest.raises(ImproperlyConfigured, match="MEMBERGATE_PORT"):
        conf.env_int("MEMBERGATE_PORT", 8000, minimum=1, maximum=65535)


@pytest.mark.parametrize("value", ["Mars/Base", "../etc/passwd", "Europe/"])
def test_it_refuses_a_time_zone_it_does_not_know(monkeypatch, value):
    monkeypatch.setenv("MEMBERGATE_TIME_ZONE", value)
    with pytest.raises(ImproperlyConfigured, match="MEMBERGATE_TIME_ZONE"):
        conf.env_time_zone("MEMBERGATE_TIME_ZONE", "UTC")


def test_it_reads_a_time_zone(monkeypatch):
    monkeypatch.setenv("MEMBERGATE_TIME_ZONE", "Europe/Berlin")
    assert conf.env_time_zone("MEMBERGATE_TIME_ZONE", "UTC") == "Europe/Berlin"


@pytest.mark.parametrize(
    "value", ["example.com", "ftp://example.com", "https://", "https://x.org/?a=1"]
)
def test_it_refuses_a_base_url_that_is_not_absolute_http(monkeypatch, value):
    monkeypatch.setenv("MEMBERGATE_BASE_URL", value)
    with pytest.raises(ImproperlyConfigured, match="MEMBERGATE_BASE_URL"):
        conf.env_base_url("MEMBERGATE_BASE_URL")


def test_it_drops_the_trailing_slash_of_the_base_url(monkeypatch):
    monkeypatch.setenv("MEMBERGATE_BASE_URL", "https://members.example.com/")
    assert conf.env_base_url("MEMBERGATE_BASE_URL") == "https://members.example.com"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp+tls://me%40x.org:p%3Ass@mail.x.org", ("mail.x.org", 587, True, False)),
        ("smtp+ssl://mail.x.org", ("mail.x.org", 465, False, True)),
        ("smtp://127.0.0.1:2525", ("127.0.0.1", 2525, False, False)),
    ],
)
def test_it_reads_smtp_email_urls(monkeypatch, tmp_path, url, expected):
    monkeypatch.setenv("EMAIL_URL", url)
    options = conf.mailers("EMAIL_URL", tmp_path)["default"]["OPTIONS"]
    assert isinstance(options, dict)
    got = tuple(options[k] for k in ("host", "port", "use_tls", "use_ssl"))
    assert got == expected


def test_it_decodes_smtp_credentials(monkeypatch, tmp_path):
    monkeypatch.setenv("EMAIL_URL", "smtp://me%40x.org:p%3Ass@mail.x.org")
    options = conf.mailers("EMAIL_URL", tmp_path)["default"]["OPTIONS"]
    assert isinstance(options, dict)
    assert (options["username"], options["password"]) == ("me@x.org", "p:ss")


@pytest.mark.parametrize("url", ["imap://mail.x.org", "smtp://", "smtp://h:port"])
def test_it_refuses_bad_email_urls_without_echoing_them(monkeypatch, tmp_path, url):
    monkeypatch.setenv("EMAIL_URL", url)
    with pytest.raises(ImproperlyConfigured, match="EMAIL_URL") as caught:
        conf.mailers("EMAIL_URL", tmp_path)
    assert url not in str(caught.value)


def test_it_generates_a_secret_once_and_keeps_it(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("SECRET_KEY_FILE", raising=False)
    path = tmp_path / "secret_key"

    first = conf.env_secret("SECRET_KEY", path)

    assert len(first) >= 50
    assert conf.env_secret("SECRET_KEY", path) == first
    assert path.stat().st_mode & 0o777 == 0o600


def test_it_reads_a_secret_from_a_file(monkeypatch, tmp_path):
    (tmp_path / "key").write_text("from-a-file\n")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("SECRET_KEY_FILE", str(tmp_path / "key"))
    assert conf.env_secret("SECRET_KEY", tmp_path / "generated") == "from-a-file"


def test_the_command_stops_with_a_clear_message_on_a_bad_value(tmp_path: Path):
    result = subprocess.run(
        [MEMBERGATE, "membership", "list"],
        env={
            "MEMBERGATE_DATA_DIR": str(tmp_path),
            "LOG_FORMAT": "xml",
            "PATH": "/usr/bin",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert (
        "configuration error: LOG_FORMAT='xml' is not one of: text, json"
        in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_the_command_refuses_a_database_url_it_cannot_use(tmp_path: Path):
    result = subprocess.run(
        [MEMBERGATE, "membership", "list"],
        env={"MEMBERGATE_DATA_DIR": str(tmp_path), "DATABASE_URL": "mysql://x@h/db"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "DATABASE_URL must start with postgres://" in result.stderr
