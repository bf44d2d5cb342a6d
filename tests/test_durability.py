"""A 2xx means the change is on disk: SIGKILL at any moment loses no answer."""

import contextlib
import itertools
import os
import signal
import subprocess
import threading
import time

import httpx
import pytest

from tests.service import Service

pytestmark = pytest.mark.slow


def process_tree(pid: int) -> list[int]:
    """The pid and every descendant of it."""
    found = [pid]
    for parent in found:
        listed = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(parent)],
            capture_output=True,
            text=True,
            check=False,
        )
        found.extend(int(child) for child in listed.stdout.split())
    return found


def kill_tree(pid: int) -> None:
    """SIGKILL a whole process tree at once, as a crash or the OOM killer would."""
    tree = process_tree(pid)
    for member in tree:
        with contextlib.suppress(ProcessLookupError):
            os.kill(member, signal.SIGSTOP)
    for member in tree:
        with contextlib.suppress(ProcessLookupError):
            os.kill(member, signal.SIGKILL)


class Load:
    """Threads sending creates of new members until stopped."""

    def __init__(self, service: Service, memberships: str, threads: int = 4) -> None:
        self.url = f"{service.base_url}/api/v1/members"
        self.params = {"opm_api_key": service.api_key, "memberships": memberships}
        self.counter = itertools.count()
        self.answered: list[str] = []
        self.server_errors: list[tuple[str, int]] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.send) for _ in range(threads)]

    def send(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self.stop.is_set():
                email = f"buyer{next(self.counter)}@example.com"
                try:
                    answer = client.post(
                        self.url, params=self.params, json={"email": email}
                    )
                except httpx.TransportError:
                    continue  # no answer: the sender would retry; nothing promised
                if answer.status_code in (200, 201):
                    self.answered.append(email)
                elif answer.status_code >= 500:
                    self.server_errors.append((email, answer.status_code))

    def __enter__(self) -> "Load":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()


def stored_members(service: Service) -> dict[str, int]:
    """Each stored member's email and number of open grants."""
    script = (
        "from membergate.members.models import Member\n"
        "from django.db.models import Count, Q\n"
        "rows = Member.objects.filter(is_staff=False).annotate("
        "g=Count('grants', filter=Q(grants__revoked_at__isnull=True)))\n"
        "for m in rows: print(m.email, m.g)\n"
    )
    out = service.membergate("manage", "shell", "-c", script).stdout
    return {
        email: int(count)
        for email, count in (line.split() for line in out.splitlines())
    }


def test_every_answered_create_survives_sigkill_of_the_whole_service(service):
    first = service.membergate("membership", "create", "--title", "Gold")
    second = service.membergate("membership", "create", "--title", "Silver")
    ids = f"{first.stdout.split()[-1]},{second.stdout.split()[-1]}"
    service.start()
    assert service.process is not None

    with Load(service, ids) as load:
        time.sleep(3)
        assert len(load.answered) > 20, "the load did not get going"
        kill_tree(service.process.pid)
        time.sleep(0.5)
    answered = list(load.answered)
    service.process.wait(5)

    service.start()
    stored = stored_members(service)

    assert load.server_errors == []
    missing = [email for email in answered if email not in stored]
    assert missing == [], f"{len(missing)} answered creates were lost"
    half_applied = {email: n for email, n in stored.items() if n != 2}
    assert half_applied == {}, "a create was applied in part"
