"""The admin in headless Chromium against a real `membergate serve`."""

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from tests.browser import chromium
from tests.service import Service

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Service]:
    with Service(tmp_path / "data") as service:
        yield service.start(timeout=180)


@pytest.fixture
def page(browser: Browser, running: Service) -> Iterator[Page]:
    context: BrowserContext = browser.new_context(base_url=running.base_url)
    context.grant_permissions(
        ["clipboard-read", "clipboard-write"], origin=running.base_url
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def sign_in(page: Page, service: Service) -> None:
    page.goto("/admin/")
    page.fill("#id_username", service.admin_email)
    page.fill("#id_password", service.admin_password)
    page.click("input[type=submit]")
    page.wait_for_selector(".mg-figures")


def create_membership(page: Page, title: str) -> int:
    page.goto("/admin/members/membership/add/")
    page.fill("#id_title", title)
    page.select_option("#id_duration", "lifetime")
    page.click("input[name=_save]")
    row = page.locator("#result_list tbody tr", has_text=title)
    return int(row.locator(".field-id").inner_text())


def create_member(page: Page, email: str) -> None:
    page.goto("/admin/members/member/add/")
    page.fill("#id_email", email)
    page.check("input[name=usable_password][value=false]")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")


def copy(page: Page, target: str) -> str:
    """Press the copy button of ``target`` and return what the clipboard holds."""
    page.click(f"button[data-copy-target={target}]")
    page.wait_for_selector(f"button[data-copy-target={target}]:has-text('Copied')")
    clipboard: str = page.evaluate("navigator.clipboard.readText()")
    return clipboard


def create_key(page: Page, name: str) -> str:
    page.goto("/admin/api-settings/")
    page.fill("#id_key-name", name)
    page.click("#create-key button[type=submit]")
    secret = copy(page, "new-key")
    assert secret == page.inner_text("#new-key")
    return secret


def build_url(page: Page, action: str, membership_id: int, key: str) -> str:
    page.goto("/admin/api-settings/")
    page.check(f"input[name=url-action][value={action}]")
    page.check(f"input[name=url-memberships][value='{membership_id}']")
    page.fill("#id_url-key", key)
    page.click("#url-builder button[type=submit]")
    return copy(page, "webhook-url")


def run_action(page: Page, changelist: str, row_text: str, action: str) -> None:
    page.goto(changelist)
    page.locator("#result_list tbody tr", has_text=row_text).locator(
        "input.action-select"
    ).check()
    page.select_option("select[name=action]", action)
    page.click("button[name=index]")
    page.wait_for_selector(".messagelist li")


def test_an_owner_sets_up_a_webhook_url(page: Page, running: Service):
    sign_in(page, running)
    gold = create_membership(page, "Gold")
    secret = create_key(page, "Zapier")
    assert secret.startswith("mg_")

    url = build_url(page, "add_membership", gold, secret)

    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        f"{running.base_url}/api/v1/members/add-membership"
    )
    assert parse_qs(parts.query) == {
        "opm_api_key": [secret],
        "membership_id": [str(gold)],
    }
    assert "curl -X POST" in page.inner_text("#webhook-curl")

    page.goto("/admin/api-settings/")
    assert secret not in page.content()
    page.locator("tr[data-key=Zapier] button", has_text="Revoke").click()
    assert "revoked" in page.inner_text("tr[data-key=Zapier]")


def test_an_owner_traces_and_resends_webhooks(page: Page, running: Service):
    sign_in(page, running)
    gold = create_membership(page, "Gold")
    secret = create_key(page, "Zapier")
    create_member(page, "grace@example.com")
    url = build_url(page, "add_membership", gold, secret)

    answer = httpx.post(url, json={"email": "grace@example.com"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["memberships_added"] == [gold]

    page.goto("/admin/api/requestlog/?q=grace@example.com")
    assert "200" in page.inner_text("#result_list tbody tr:first-child .field-result")

    # A webhook for a membership that cannot be granted fails...
    silver = create_membership(page, "Silver")
    create_member(page, "alan@example.com")
    silver_url = build_url(page, "add_membership", silver, secret)
    run_action(page, "/admin/members/membership/", "Silver", "archive")
    failed = httpx.post(silver_url, json={"email": "alan@example.com"})
    assert failed.json()["code"] == "unknown_membership"

    # ...the log says why; once unarchived, resending succeeds.
    page.goto("/admin/api/requestlog/?result=failure")
    page.locator("#result_list tbody tr:first-child th a").click()
    assert "check Memberships for the id" in page.inner_text("#content")
    entry_url = page.url
    run_action(page, "/admin/members/membership/", "Silver", "unarchive")
    page.goto(entry_url)
    page.click("#resend-form button")
    assert "it succeeded" in page.inner_text(".messagelist")

    page.goto("/admin/api-settings/")
    page.locator("tr[data-key=Zapier] button", has_text="Revoke").click()
    refused = httpx.post(url, json={"email": "grace@example.com"})
    assert (refused.status_code, refused.json()["code"]) == (401, "invalid_api_key")
