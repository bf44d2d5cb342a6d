"""Emails survive a mail server that is down, killed workers, and many workers."""

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from membergate.mail import sending
from tests.notify import count_deliveries, create_members
from tests.service import MEMBERGATE, Service
from tests.smtp import SmtpServer

pytestmark = pytest.mark.slow


def emails(count: int) -> list[str]:
    return [f"member{n}@example.com" for n in range(count)]


class Workers:
    def __init__(self, service: Service, log_dir: Path) -> None:
        self.service = service
        self.log_dir = log_dir
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, count: int = 1) -> list[subprocess.Popen[bytes]]:
        started = []
        for _ in range(count):
            log = open(self.log_dir / f"worker{len(self.processes)}.log", "wb")  # noqa: SIM115
            process = subprocess.Popen(
                [MEMBERGATE, "worker", "--interval", "0.2"],
                env=self.service.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            self.processes.append(process)
            started.append(process)
        return started

    def logs(self) -> str:
        return "".join(p.read_text() for p in sorted(self.log_dir.glob("worker*.log")))

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def prepared(tmp_path: Path) -> Iterator[tuple[Service, SmtpServer, Workers]]:
    """The service without its worker, a mail server not yet started."""
    smtp = SmtpServer(delay=0.005)
    with Service(
        tmp_path / "data",
        EMAIL_URL=smtp.url,
        MEMBERGATE_MAIL_RETRY_BASE_SECONDS="1",
        MEMBERGATE_MAIL_STUCK_SECONDS="4",
    ) as service:
        service.start("--no-worker")
        workers = Workers(service, tmp_path)
        try:
            yield service, smtp, workers
        finally:
            workers.stop()
            smtp.stop()


def test_emails_wait_for_a_mail_server_that_is_down_and_arrive_once(tmp_path):
    smtp = SmtpServer()
    with Service(
        tmp_path / "data", EMAIL_URL=smtp.url, MEMBERGATE_MAIL_RETRY_BASE_SECONDS="1"
    ) as service:
        service.start()
        create_members(service, emails(5))
        deadline = time.monotonic() + 30
        while "cannot be reached" not in service.read_log():
            assert time.monotonic() < deadline, service.read_log()
            time.sleep(0.2)
        time.sleep(2)

        with smtp:
            smtp.wait_for(5, timeout=60)
            time.sleep(2)
            assert smtp.recipients() == dict.fromkeys(emails(5), 1)
        assert count_deliveries(service, "sent") == 5


def failed_attempts(service: Service) -> int:
    """Deliveries that have failed at least once and wait for a retry."""
    code = (
        "from membergate.mail.models import Delivery;"
        "print(Delivery.objects.filter(status='queued').exclude(last_error='')"
        ".count())"
    )
    out = service.membergate("manage", "shell", "-c", code).stdout
    return int(out.strip().splitlines()[-1])


def test_emails_sent_while_the_mail_server_was_away_arrive_once(tmp_path):
    """The worker's kept-open connection goes stale while the server is down."""
    smtp = SmtpServer()
    with Service(
        tmp_path / "data", EMAIL_URL=smtp.url, MEMBERGATE_MAIL_RETRY_BASE_SECONDS="1"
    ) as service:
        smtp.start()
        try:
            service.start()
            first, *later = emails(6)
            create_members(service, [first])
            smtp.wait_for(1)
            smtp.stop()

            create_members(service, later)
            deadline = time.monotonic() + 30
            while not failed_attempts(service):
                assert time.monotonic() < deadline, service.read_log()
                time.sleep(0.2)
            smtp.start()

            smtp.wait_for(6, timeout=60)
            time.sleep(2)
            assert smtp.recipients() == dict.fromkeys(emails(6), 1)
        finally:
            smtp.stop()
        assert count_deliveries(service, "sent") == 6


def test_a_worker_killed_mid_batch_loses_no_email(prepared):
    service, smtp, workers = prepared
    smtp.start()
    create_members(service, emails(150))

    (first,) = workers.start()
    smtp.wait_for(20, timeout=120)
    first.send_signal(signal.SIGKILL)
    first.wait()
    arrived = len(smtp.messages)
    assert arrived < 150, "the worker finished before it was killed"

    # Once the stuck time has passed, a new worker sends the rest.
    time.sleep(4)
    workers.start()
    smtp.wait_for(150, timeout=120)
    time.sleep(2)

    counts = smtp.recipients()
    assert set(counts) == set(emails(150))
    # The emails in flight when the worker died, one per connection, may
    # arrive twice.
    duplicates = sum(counts.values()) - 150
    assert duplicates <= sending.CONNECTIONS, workers.logs()
    assert count_deliveries(service, "sent") == 150


def test_several_workers_send_each_email_exactly_once(prepared):
    service, smtp, workers = prepared
    smtp.start()
    create_members(service, emails(300))

    workers.start(3)
    smtp.wait_for(300, timeout=180)
    time.sleep(3)

    assert smtp.recipients() == dict.fromkeys(emails(300), 1)
    assert count_deliveries(service, "sent") == 300
    assert "Traceback" not in workers.logs()
