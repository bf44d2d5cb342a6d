"""Races a real `membergate serve` must win: the same webhook many times at once.

Integration tools retry and fan out, so one order often reaches the API
several times in the same instant. The requests go out in parallel threads,
released together, against a server with several processes and threads.
"""

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.service import Service

pytestmark = pytest.mark.slow

PARALLEL = 30


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Service]:
    with Service(tmp_path / "data") as service:
        service.start("--workers", "2", "--threads", "8", "--no-worker")
        yield service


def create_membership(service: Service, title: str) -> int:
    printed = service.membergate("membership", "create", "--title", title).stdout
    return int(printed.strip().splitlines()[-1])


def count_in_database(service: Service, expression: str) -> int:
    """Evaluate an ORM count in the service's own database."""
    code = f"from membergate.members.models import Grant, Member\nprint({expression})"
    printed = service.membergate("manage", "shell", "-c", code).stdout
    return int(printed.strip().splitlines()[-1])


def all_at_once(send: Callable[[httpx.Client], httpx.Response]) -> list[httpx.Response]:
    """Send PARALLEL requests, each from its own thread and connection."""
    barrier = threading.Barrier(PARALLEL)

    def one(_: int) -> httpx.Response:
        with httpx.Client(timeout=60) as client:
            barrier.wait(timeout=30)
            return send(client)

    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        return list(pool.map(one, range(PARALLEL)))


def test_thirty_creates_of_one_new_email_make_one_member(live):
    gold = create_membership(live, "Gold")
    url = f"{live.base_url}/api/v1/members"
    body = json.dumps({"email": "Race.Winner@example.com", "memberships": [gold]})

    answers = all_at_once(
        lambda client: client.post(
            url,
            content=body,
            headers={"X-API-Key": live.api_key, "Content-Type": "application/json"},
        )
    )

    statuses = Counter(a.status_code for a in answers)
    assert statuses == {201: 1, 200: PARALLEL - 1}, [
        (a.status_code, a.text[:200])
        for a in answers
        if a.status_code not in (200, 201)
    ]
    created = [a.json()["data"]["created"] for a in answers]
    assert created.count(True) == 1
    ids = {a.json()["data"]["member"]["id"] for a in answers}
    assert len(ids) == 1
    assert (
        count_in_database(
            live, "Member.objects.filter(email='race.winner@example.com').count()"
        )
        == 1
    )
    assert (
        count_in_database(
            live,
            "Grant.objects.open().filter(member__email='race.winner@example.com').count()",
        )
        == 1
    )


def test_thirty_adds_of_one_membership_leave_one_open_grant(live):
    gold = create_membership(live, "Gold")
    headers = {"X-API-Key": live.api_key}
    made = httpx.post(
        f"{live.base_url}/api/v1/members",
        json={"email": "grace.hopper@example.com"},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    url = f"{live.base_url}/wp-json/opm-api/v1/members/add-membership"

    answers = all_at_once(
        lambda client: client.post(
            url,
            data={"email": "grace.hopper@example.com", "membership_id": str(gold)},
            headers=headers,
        )
    )

    assert [a.status_code for a in answers] == [200] * PARALLEL, [
        (a.status_code, a.text[:200]) for a in answers if a.status_code != 200
    ]
    added = [a.json()["data"]["memberships_added"] for a in answers]
    assert added.count([gold]) == 1
    assert added.count([]) == PARALLEL - 1
    for answer in answers:
        held = answer.json()["data"]["member"]["memberships"]
        assert [m["id"] for m in held] == [gold]
    assert (
        count_in_database(
            live,
            "Grant.objects.open().filter("
            f"member__email='grace.hopper@example.com', membership_id={gold}).count()",
        )
        == 1
    )
