"""The interactive API docs render in headless Chromium under the site's CSP."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from playwright.sync_api import Browser, ConsoleMessage

from tests.browser import chromium
from tests.service import Service


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Service]:
    with Service(tmp_path / "data") as service:
        yield service.start(timeout=180)


def test_the_schema_has_no_key_twice(db):
    """Swagger UI refuses a schema with a duplicate key, e.g. two "200"s."""
    twice: list[str] = []

    def pairs(found: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in found]
        twice.extend(key for key in set(keys) if keys.count(key) > 1)
        return dict(found)

    json.loads(Client().get("/api/v1/openapi.json").content, object_pairs_hook=pairs)
    assert twice == []


@pytest.mark.browser
@pytest.mark.slow
def test_the_docs_show_every_operation_without_a_console_error(
    browser: Browser, running: Service
) -> None:
    context = browser.new_context(base_url=running.base_url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    # A CSP violation is reported on the console as an error; a request to
    # anywhere but the service itself would fail here, with no internet.
    problems: list[str] = []
    page.on(
        "console",
        lambda message: problems.append(message.text) if _is_error(message) else None,
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    elsewhere: list[str] = []
    page.on(
        "request",
        lambda request: (
            None
            if request.url.startswith(running.base_url)
            else elsewhere.append(request.url)
        ),
    )

    try:
        page.goto("/api/v1/docs")
        page.wait_for_selector(".opblock")
        page.wait_for_load_state("networkidle")
        summaries = page.locator(".opblock-summary-path").all_inner_texts()
    finally:
        context.close()

    assert problems == []
    assert elsewhere == []
    assert {path.replace("\u200b", "") for path in summaries} >= {
        "/api/v1/members",
        "/api/v1/members/add-membership",
        "/api/v1/members/remove-membership",
        "/api/v1/members/{member_id}",
        "/api/v1/memberships",
    }


def _is_error(message: ConsoleMessage) -> bool:
    return message.type == "error"
