"""Races a real `membergate serve` must win: the same webhook many times at once.

Integration tools retry and fan out, so one order often reaches the API
several times in the same instant. The requests go out in parallel threads,
released together, against a server with several processes and threads.
"""

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.service import Service

pytestmark = pytest.mark.slow

PARALLEL = 30


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """One server for the module; each test uses its own emails and memberships."""
    with Service(tmp_path_factory.mktemp("live") / "data") as service:
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


def all_at_once(
    send: Callable[[httpx.Client, int], httpx.Response], n: int = PARALLEL
) -> list[httpx.Response]:
    """Send n requests from n threads and connections, released together."""
    barrier = threading.Barrier(n)

    def one(index: int) -> httpx.Response:
        with httpx.Client(timeout=60) as client:
            barrier.wait(timeout=30)
            return send(client, index)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(one, range(n)))


def unexpected(answers: list[httpx.Response], *expected: int) -> list[object]:
    return [
        (a.status_code, a.text[:300]) for a in answers if a.status_code not in expected
    ]


def test_thirty_creates_of_one_new_email_make_one_member(live):
    gold = create_membership(live, "Gold")
    url = f"{live.base_url}/api/v1/members"
    # Each sender spells the address its own way; it is one member all the same.
    spellings = [
        "race.winner@example.com",
        "Race.Winner@Example.com",
        " RACE.winner@example.COM",
    ]

    def create(client: httpx.Client, index: int) -> httpx.Response:
        fields = {
            "email": spellings[index % len(spellings)],
            "memberships": [gold],
            "notify": "1",
        }
        return client.post(
            url,
            content=json.dumps(fields),
            headers={"X-API-Key": live.api_key, "Content-Type": "application/json"},
        )

    answers = all_at_once(create)

    statuses = Counter(a.status_code for a in answers)
    assert statuses == {201: 1, 200: PARALLEL - 1}, unexpected(answers, 200, 201)
    data = [a.json()["data"] for a in answers]
    assert [d["created"] for d in data].count(True) == 1
    assert [d["notified"] for d in data].count(True) == 1
    assert {d["member"]["id"] for d in data} == {data[0]["member"]["id"]}
    assert {d["member"]["email"] for d in data} == {"race.winner@example.com"}
    where = "email='race.winner@example.com'"
    assert count_in_database(live, f"Member.objects.filter({where}).count()") == 1
    assert (
        count_in_database(live, f"Grant.objects.open().filter(member__{where}).count()")
        == 1
    )
    assert (
        count_in_database(live, f"Delivery.objects.filter(member__{where}).count()")
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
        lambda client, _: client.post(
            url,
            data={"email": "grace.hopper@example.com", "membership_id": str(gold)},
            headers=headers,
        )
    )

    assert [a.status_code for a in answers] == [200] * PARALLEL, unexpected(
        answers, 200
    )
    added = [a.json()["data"]["memberships_added"] for a in answers]
    assert added.count([gold]) == 1
    assert added.count([]) == PARALLEL - 1
    for answer in answers:
        held = answer.json()["data"]["member"]["memberships"]
        assert [m["id"] for m in held] == [gold]
    where = f"member__email='grace.hopper@example.com', membership_id={gold}"
    assert count_in_database(live, f"Grant.objects.open().filter({where}).count()") == 1


def test_failed_keys_are_limited_per_address_across_server_processes(live):
    url = f"{live.base_url}/api/v1/members"
    # The limit is 30 over a sliding minute: a burst that straddles the turn
    # of a minute is partly weighed as the previous minute's, so it starts
    # early enough in a minute to end within it.
    if time.time() % 60 > 30:
        time.sleep(60 - time.time() % 60 + 0.1)
    minute = time.time() // 60

    # One after another, each on a new connection, so that they spread over
    # the server's processes as a burst of retries does.
    answers = []
    for n in range(31):
        with httpx.Client(timeout=30) as client:
            answers.append(
                client.post(
                    url, params={"opm_api_key": f"mg_guess{n}", "email": "x@y.org"}
                )
            )

    assert time.time() // 60 == minute, "the burst took over 30 seconds"
    assert [a.status_code for a in answers[:30]] == [401] * 30, unexpected(
        answers[:30], 401
    )
    assert answers[30].status_code == 429, answers[30].text
    assert answers[30].json()["code"] == "rate_limited"
    assert int(answers[30].headers["Retry-After"]) > 0


def test_parallel_retries_with_one_idempotency_key_apply_once(live):
    url = f"{live.base_url}/api/v1/members"
    headers = {
        "X-API-Key": live.api_key,
        "Content-Type": "application/json",
        "Idempotency-Key": "zap-run-42",
    }
    body = json.dumps({"email": "retried@example.com", "notify": "1"})

    answers = all_at_once(
        lambda client, _: client.post(url, content=body, headers=headers), n=10
    )

    assert {a.status_code for a in answers} <= {200, 201}, unexpected(answers, 200, 201)
    originals = [
        a
        for a in answers
        if a.status_code == 201 and "Idempotent-Replayed" not in a.headers
    ]
    assert len(originals) == 1
    where = "email='retried@example.com'"
    assert count_in_database(live, f"Member.objects.filter({where}).count()") == 1
    assert (
        count_in_database(live, f"Delivery.objects.filter(member__{where}).count()")
        == 1
    )
