import os
import shlex
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.service import Service

ROOT = Path(__file__).parent.parent

pytestmark = pytest.mark.slow


def children_of(pid: int) -> list[int]:
    result = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(pid)],
        capture_output=True,
        text=True,
        check=False,
    )
    return [int(p) for p in result.stdout.split()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = subprocess.run(
        ["ps", "-o", "stat=", "-p", str(pid)],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return bool(state) and not state.startswith("Z")


def test_the_first_run_prints_a_working_admin_login_and_api_key(service):
    service.start()
    assert service.admin_email == "admin@localhost"
    assert service.api_key.startswith("mg_")
    assert f"{service.base_url}/admin/" in service.output

    with httpx.Client(base_url=service.base_url) as client:
        answer = service.sign_in_to_the_admin(client)
        assert answer.status_code == 302
        assert answer.headers["location"] == "/admin/"
        assert client.get("/admin/").status_code == 200

    listed = service.membergate("apikey", "list").stdout
    assert "default" in listed
    assert service.api_key not in listed


def test_a_second_start_prints_no_credentials(service):
    service.start()
    service.stop()
    service.port += 0
    service.start()
    assert service.output.count("admin password") == 1


def test_listening_on_every_address_without_a_base_url_warns(service):
    del service.env["MEMBERGATE_BASE_URL"]
    service.start("--host", "0.0.0.0")  # noqa: S104
    assert "MEMBERGATE_BASE_URL is not set" in service.read_log()
    assert f"starting at http://localhost:{service.port}/" in service.output
    service.stop()

    service.start()  # on 127.0.0.1, the links are what the operator chose
    assert "MEMBERGATE_BASE_URL is not set" not in service.read_log()


def test_health_answers_while_the_database_works(service):
    service.start()
    answer = httpx.get(f"{service.base_url}/health")
    assert (answer.status_code, answer.json()) == (200, {"status": "ok"})


def test_sigterm_stops_serve_quickly_and_leaves_no_process(service):
    service.start()
    assert service.process is not None
    children = children_of(service.process.pid)
    assert len(children) == 2  # the HTTP server and the worker
    grandchildren = [g for c in children for g in children_of(c)]

    started = time.monotonic()
    assert service.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < 5
    time.sleep(0.5)
    assert [pid for pid in children + grandchildren if alive(pid)] == []


def test_serve_stops_with_its_children_when_killed(service):
    """Even SIGKILL on `serve` leaves no server or worker behind."""
    service.start()
    assert service.process is not None
    children = children_of(service.process.pid)

    service.stop(signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [pid for pid in children if alive(pid)] == []


def test_a_key_made_on_the_command_line_works_until_it_is_revoked(service):
    service.start()
    made = service.membergate("apikey", "create", "--name", "x")
    key = made.stdout.splitlines()[-1]

    with httpx.Client(base_url=service.base_url, headers={"X-API-Key": key}) as api:
        created = api.post("/api/v1/members", json={"email": "cli@example.com"})
        assert created.status_code == 201, created.text
        assert created.json()["data"]["created"] is True

        service.membergate("apikey", "revoke", "x")
        refused = api.post("/api/v1/members", json={"email": "late@example.com"})

    assert refused.status_code == 401
    assert refused.json()["code"] == "invalid_api_key"


def readme_serve_command() -> list[str]:
    """The README's first set-up command, which runs the service."""
    readme = (ROOT / "README.md").read_text()
    line = next(line for line in readme.splitlines() if line.startswith("./run serve"))
    command = shlex.split(line.partition("#")[0])
    return [str(ROOT / command[0]), *command[1:]]


@pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL")),
    reason="the README's command runs on the embedded database: SQLite pass",
)
def test_the_readme_s_first_command_serves_and_prints_the_login(tmp_path):
    with Service(tmp_path / "data", serve=tuple(readme_serve_command())) as service:
        service.start(timeout=300)
        with httpx.Client(base_url=service.base_url) as client:
            assert service.sign_in_to_the_admin(client).status_code == 302
            created = client.post(
                "/api/v1/members",
                json={"email": "ada@example.com"},
                headers={"X-API-Key": service.api_key},
            )
        assert created.status_code == 201, created.text
        assert service.stop() == 0
