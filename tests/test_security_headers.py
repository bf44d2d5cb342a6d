import os
import subprocess

import httpx
import pytest

from tests.service import MEMBERGATE, Service

pytestmark = pytest.mark.django_db

# An admin page, a members' page and an API answer.
PAGES = ["/admin/login/", "/account/", "/api/v1/memberships"]


def run_check_deploy(tmp_path, base_url: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "MEMBERGATE_DATA_DIR": str(tmp_path),
        "MEMBERGATE_BASE_URL": base_url,
    }
    env.pop("MEMBERGATE_DEBUG", None)
    return subprocess.run(
        [MEMBERGATE, "manage", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.mark.parametrize("page", PAGES)
def test_every_answer_carries_the_security_headers(client, page):
    answer = client.get(page)
    policy = answer["Content-Security-Policy"]
    directives = dict(part.partition(" ")[::2] for part in policy.split("; "))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert "unsafe-inline" not in policy
    assert answer["X-Frame-Options"] == "DENY"
    assert answer["X-Content-Type-Options"] == "nosniff"
    assert answer["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in answer


def test_the_admin_page_uses_no_inline_script_or_style(client):
    html = client.get("/admin/login/").content.decode()
    assert "<script>" not in html
    assert " style=" not in html
    assert " onclick=" not in html


def test_check_deploy_is_clean_in_production_mode(tmp_path):
    result = run_check_deploy(tmp_path, "https://members.example.com")
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_warns_when_the_base_url_is_plain_http(tmp_path):
    result = run_check_deploy(tmp_path, "http://members.example.com")
    assert result.returncode == 1
    for warning in ["security.W004", "security.W008", "security.W012"]:
        assert warning in result.stderr


@pytest.mark.slow
def test_behind_https_it_sends_hsts_and_secure_cookies(tmp_path):
    with Service(
        tmp_path / "data", MEMBERGATE_BASE_URL="https://members.example.com"
    ) as service:
        service.start()
        with httpx.Client(base_url=service.base_url) as client:
            secure = client.get("/admin/login/", headers={"X-Forwarded-Proto": "https"})
            plain = client.get("/admin/login/")
            probe = client.get("/health")

    assert secure.status_code == 200
    assert secure.headers["Strict-Transport-Security"] == (
        "max-age=31536000; includeSubDomains"
    )
    assert "Content-Security-Policy" in secure.headers
    csrf_cookie = secure.headers["Set-Cookie"]
    assert csrf_cookie.startswith("csrftoken=")
    assert "Secure" in csrf_cookie

    # Plain HTTP that slipped past the proxy is sent to HTTPS, without HSTS,
    # which only means something over HTTPS.
    assert plain.status_code == 301
    location = f"https://127.0.0.1:{service.port}/admin/login/"
    assert plain.headers["Location"] == location
    assert "Strict-Transport-Security" not in plain.headers
    # Probes reach the servers directly, over HTTP.
    assert probe.status_code == 200
