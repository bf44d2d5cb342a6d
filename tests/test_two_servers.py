"""Two app servers and two workers on one PostgreSQL database, under load."""

import os
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.service import MEMBERGATE, Service
from tests.smtp import SmtpServer

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL"),
        reason="several servers share one database on PostgreSQL only",
    ),
]

MEMBERS = 24
RACED = 4


def create_membership(service: Service, title: str) -> int:
    out = service.membergate("membership", "create", "--title", title).stdout
    return int(out.strip().splitlines()[-1])


def sequence(
    servers: list[httpx.Client], number: int, ids: dict[str, int]
) -> list[tuple[str, httpx.Response]]:
    """One member's calls, alternating between the servers."""
    email = f"member{number}@example.com"
    first = {"email": email, "first_name": "Ada", "notify": "1"}
    first["memberships"] = str(ids["gold"])
    key = {"Idempotency-Key": f"create-{number}"}
    calls = [
        ("create", servers[number % 2].post("/members", json=first, headers=key)),
        ("replay", servers[(number + 1) % 2].post("/members", json=first, headers=key)),
        (
            "again",
            servers[number % 2].post(
                "/members", json={"email": email, "memberships": [ids["silver"]]}
            ),
        ),
        (
            "add",
            servers[(number + 1) % 2].post(
                "/members/add-membership",
                json={"email": email, "membership_id": ids["bronze"]},
            ),
        ),
    ]
    if number % 2 == 0:
        removed = servers[number % 2].post(
            "/members/remove-membership",
            json={"email": email, "membership_id": ids["gold"]},
        )
        calls.append(("remove", removed))
    return calls


def race(servers: list[httpx.Client], number: int, gold: int) -> list[int]:
    """Create one new member on both servers at the same moment."""
    barrier = threading.Barrier(2)
    body = {"email": f"raced{number}@example.com", "notify": 1, "memberships": [gold]}

    def send(server: httpx.Client) -> int:
        barrier.wait()
        return server.post("/members", json=body).status_code

    with ThreadPoolExecutor(2) as pool:
        return sorted(pool.map(send, servers))


def sign_in_to_the_admin(service: Service) -> str:
    """Sign in as the first run's admin; the session cookie's value."""
    with httpx.Client(base_url=service.base_url) as client:
        answer = service.sign_in_to_the_admin(client)
        assert answer.status_code == 302, answer.text
        return answer.cookies["sessionid"]


def start_worker(
    service: Service, log: Path, email_url: str
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [MEMBERGATE, "worker"],
        env={**service.env, "EMAIL_URL": email_url},
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )


def test_two_servers_and_two_workers_share_one_database(tmp_path):
    with (
        SmtpServer() as smtp,
        Service(tmp_path / "one") as one,
        Service(tmp_path / "two") as two,
    ):
        two.env["DATABASE_URL"] = one.env["DATABASE_URL"]
        # As docs/deploy.md asks: every app server has the same secret key.
        for server in (one, two):
            server.env["SECRET_KEY"] = "one-secret-key-for-every-app-server"
        one.start("--no-worker")
        two.start("--no-worker")
        session = sign_in_to_the_admin(one)
        admin_on_two = httpx.get(
            f"{two.base_url}/admin/", cookies={"sessionid": session}
        )
        workers = [
            start_worker(one, tmp_path / f"worker{n}.log", smtp.url) for n in (1, 2)
        ]
        try:
            ids = {
                t: create_membership(one, t.title())
                for t in ("gold", "silver", "bronze")
            }
            headers = {"X-API-Key": one.api_key}
            servers = [
                httpx.Client(
                    base_url=f"{s.base_url}/api/v1", headers=headers, timeout=60
                )
                for s in (one, two)
            ]
            with ThreadPoolExecutor(6) as pool:
                results = list(
                    pool.map(lambda n: sequence(servers, n, ids), range(MEMBERS))
                )
            raced = [race(servers, n, ids["gold"]) for n in range(RACED)]
            listed = [
                servers[n % 2].get(
                    "/members", params={"email": f"member{n}@example.com"}
                )
                for n in range(MEMBERS)
            ]
            total = servers[0].get("/members", params={"per_page": 100}).json()

            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with psycopg.connect(one.env["DATABASE_URL"]) as db:
                    waiting = db.execute(
                        "SELECT count(*) FROM django_tasks_database_dbtaskresult "
                        "WHERE status IN ('READY', 'RUNNING')"
                    ).fetchone()
                if waiting == (0,):
                    break
                time.sleep(0.5)
            with psycopg.connect(one.env["DATABASE_URL"]) as db:
                welcomes = db.execute(
                    "SELECT m.email, count(d.id) FROM members_member m "
                    "LEFT JOIN mail_delivery d ON d.member_id = m.id "
                    "AND d.kind = 'welcome' WHERE NOT m.is_superuser "
                    "GROUP BY m.email"
                ).fetchall()
                tasks = db.execute(
                    "SELECT status, count(*) FROM django_tasks_database_dbtaskresult "
                    "GROUP BY status"
                ).fetchall()
            smtp.wait_for(MEMBERS + RACED, timeout=60)
            time.sleep(2)  # room for a duplicate to arrive, were there one
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait(20)

    # A session begun on one server is good on the other.
    assert admin_on_two.status_code == 200, admin_on_two.headers
    assert one.admin_email in admin_on_two.text
    assert "Log out" in admin_on_two.text

    for calls in results:
        answers = dict(calls)
        assert answers["create"].status_code == 201, answers["create"].text
        assert answers["create"].json()["data"]["created"] is True
        assert answers["replay"].status_code == 201
        assert answers["replay"].headers.get("Idempotent-Replayed") == "true"
        assert answers["replay"].json() == answers["create"].json()
        assert answers["again"].status_code == 200, answers["again"].text
        assert answers["again"].json()["data"]["created"] is False
        assert answers["add"].status_code == 200, answers["add"].text
        if "remove" in answers:
            assert answers["remove"].status_code == 200, answers["remove"].text

    for number, answer in enumerate(listed):
        (member,) = answer.json()["data"]["members"]
        held = {m["id"] for m in member["memberships"]}
        expected = {ids["silver"], ids["bronze"]}
        if number % 2:
            expected.add(ids["gold"])
        assert held == expected, number

    assert raced == [[200, 201]] * RACED
    # Every member once (the admin account is not listed as a member).
    emails = {m["email"] for m in total["data"]["members"]}
    assert {f"member{n}@example.com" for n in range(MEMBERS)} <= emails
    assert {f"raced{n}@example.com" for n in range(RACED)} <= emails
    assert welcomes
    assert all(count == 1 for _, count in welcomes), welcomes
    assert len(welcomes) == MEMBERS + RACED
    assert dict(tasks) == {"SUCCESSFUL": MEMBERS + RACED}
    # Each new member's welcome email arrived at the mail server exactly once.
    new_members = [f"member{n}@example.com" for n in range(MEMBERS)]
    new_members += [f"raced{n}@example.com" for n in range(RACED)]
    assert smtp.recipients() == dict.fromkeys(new_members, 1)
