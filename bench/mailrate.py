"""How fast `membergate worker` delivers welcome emails to an SMTP server."""

import asyncio
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller

from bench.service import MEMBERGATE, Server, free_port

# Give up once no email has arrived for this long.
QUIET_LIMIT = 30.0


RECIPIENT_PREFIX = "mail-"


class Inbox:
    """Counts the measured run's messages as aiosmtpd accepts them.

    Emails queued by earlier scenarios (scenario 4 creates members with
    notify on) arrive too; they are counted apart, as ``others``, but they
    are welcome emails like the rest, so the rate counts every arrival.
    """

    def __init__(self) -> None:
        self.count = 0
        self.others = 0
        self.first = 0.0
        self.last = 0.0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        measured = all(to.startswith(RECIPIENT_PREFIX) for to in envelope.rcpt_tos)
        with self.lock:
            if measured:
                self.count += 1
            else:
                self.others += 1
            self.last = time.monotonic()
            if self.count + self.others == 1:
                self.first = self.last
        await asyncio.sleep(0)
        return "250 OK"


@dataclass
class MailResult:
    queued: int
    delivered: int
    seconds: float
    rate: float
    steady_rate: float
    note: str = ""

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def queue_welcome_emails(
    server: Server, api_key: str, memberships: list[int], count: int
) -> int:
    """Create ``count`` members with notify on; return how many answered 201."""

    def create(client: httpx.Client, index: int) -> int:
        answer = client.post(
            "/api/v1/members",
            json={
                "email": f"{RECIPIENT_PREFIX}{index}@load.example",
                "memberships": memberships,
                "notify": True,
            },
            headers={"X-API-Key": api_key},
        )
        return answer.status_code

    with (
        httpx.Client(base_url=server.base_url, timeout=30) as client,
        ThreadPoolExecutor(4) as pool,
    ):
        statuses = list(pool.map(lambda i: create(client, i), range(count)))
    return statuses.count(201)


def measure_worker(server: Server, queued: int, data_dir: Path) -> MailResult:
    """Start `membergate worker` against a local SMTP server; time the deliveries."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    log = (data_dir / "worker.log").open("ab")
    env = {**server.env, "EMAIL_URL": f"smtp://127.0.0.1:{port}"}
    started = time.monotonic()
    worker = subprocess.Popen(
        [MEMBERGATE, "worker"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    log.close()
    try:
        while inbox.count < queued and worker.poll() is None:
            last_news = inbox.last or started
            if time.monotonic() - last_news > QUIET_LIMIT:
                break
            time.sleep(0.05)
    finally:
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        controller.stop()

    seconds = (inbox.last or time.monotonic()) - started
    arrived = inbox.count + inbox.others
    steady = inbox.last - inbox.first
    note = f"{inbox.others} emails queued by earlier scenarios were sent too"
    if inbox.count < queued:
        note = f"only {inbox.count} of {queued} arrived; see worker.log; {note}"
    return MailResult(
        queued=queued,
        delivered=inbox.count,
        seconds=round(seconds, 2),
        rate=round(arrived / seconds, 1) if seconds > 0 else 0.0,
        steady_rate=round((arrived - 1) / steady, 1) if steady > 0 else 0.0,
        note=note,
    )
