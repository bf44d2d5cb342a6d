import re
import time

import pytest
from playwright.sync_api import Page

from tests.browser import chromium
from tests.notify import create_members
from tests.service import Service
from tests.smtp import SmtpServer, html_of, text_of

pytestmark = pytest.mark.slow


def assert_fits_the_screen(page: Page) -> None:
    """Nothing on the page makes a phone scroll sideways."""
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], (page.url, widths)


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.mark.browser
def test_a_new_member_gets_one_welcome_email_whose_link_sets_a_password(tmp_path, smtp):
    with Service(
        tmp_path / "data",
        EMAIL_URL=smtp.url,
        MEMBERGATE_SITE_NAME="Gold Club",
    ) as service:
        service.start()
        gold = service.membergate("membership", "create", "--title", "Gold Plan")
        gold_id = int(gold.stdout.strip().splitlines()[-1])

        create_members(service, ["ada@example.com"], [gold_id])

        (message,) = smtp.wait_for(1, timeout=30)
        time.sleep(1.5)
        assert len(smtp.messages) == 1
        assert message["To"] == "ada@example.com"
        assert message["Subject"] == "Welcome to Gold Club"
        text = text_of(message)
        assert "ada@example.com" in text
        assert "Gold Club" in text
        link = re.search(rf"{service.base_url}/account/set-password/\S+/", text)
        assert link is not None
        assert f'href="{link.group(0)}"' in html_of(message)

        new_password = "a long and new pass phrase"
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 390, "height": 844})
            page.goto(link.group(0))
            assert_fits_the_screen(page)
            page.get_by_label("New password").fill(new_password)
            page.get_by_label("The same password again").fill(new_password)
            page.get_by_role("button", name="Set password").click()
            page.wait_for_url(f"{service.base_url}/account/")
            assert page.get_by_role("heading", name="Your memberships").is_visible()
            assert page.get_by_role("rowheader", name="Gold Plan").is_visible()
            assert_fits_the_screen(page)

            page.get_by_role("button", name="Sign out").click()
            page.wait_for_url(f"{service.base_url}/account/sign-in/")
            assert_fits_the_screen(page)
            page.get_by_label("Email").fill("ada@example.com")
            page.get_by_label("Password").fill(new_password)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{service.base_url}/account/")
            assert page.get_by_role("rowheader", name="Gold Plan").is_visible()

            # The link worked once.
            page.goto(link.group(0))
            assert page.get_by_role(
                "heading", name="This link no longer works"
            ).is_visible()

        # The server logged each visit of the link, never its token.
        service.stop()
        token = link.group(0).rstrip("/").rsplit("/", 1)[-1]
        log = service.read_log()
        uid = link.group(0).rstrip("/").rsplit("/", 2)[-2]
        visits = [
            line.split("] ", 1)[1].split(" from ")[0].rsplit(" ", 1)[0]
            for line in log.splitlines()
            if "membergate.requests" in line and "/set-password/" in line
        ]
        assert visits == [
            f"GET /account/set-password/{uid}/[token]/ 302",
            f"GET /account/set-password/{uid}/set-password/ 200",
            f"POST /account/set-password/{uid}/set-password/ 302",
            f"GET /account/set-password/{uid}/[token]/ 200",
        ], log
        assert token not in log


def test_without_a_mail_server_emails_are_written_to_the_data_dir(tmp_path):
    with Service(tmp_path / "data") as service:
        service.env.pop("EMAIL_URL", None)
        service.start()

        create_members(service, ["ada@example.com"])

        outbox = tmp_path / "data" / "outbox"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not list(outbox.glob("*.eml")):
            time.sleep(0.1)
        (eml,) = outbox.glob("*.eml")
        assert b"To: ada@example.com" in eml.read_bytes()
        time.sleep(0.5)
        assert f"wrote the email to {eml}" in service.read_log()
