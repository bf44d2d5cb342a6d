"""Slow and stalled clients hold no request thread; their bodies have a deadline."""

import asyncio
import json
import select
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import httpx
import pytest

from membergate.asgi import BodyFirst, Message, Scope, Send
from tests.service import Service

pytestmark = pytest.mark.slow

REQUEST_HEAD = (
    "POST /api/v1/members HTTP/1.1\r\n"
    "Host: 127.0.0.1\r\n"
    "{key}"
    "Content-Type: application/json\r\n"
    "Connection: close\r\n"
    "{length}"
    "\r\n"
)


def head(key: str | None, length: int | None) -> bytes:
    """A request head; without a key header when `key` is None."""
    declared = "Transfer-Encoding: chunked\r\n" if length is None else ""
    if length is not None:
        declared = f"Content-Length: {length}\r\n"
    key_header = "" if key is None else f"X-API-Key: {key}\r\n"
    return REQUEST_HEAD.format(key=key_header, length=declared).encode()


@contextmanager
def stalled_clients(
    port: int, count: int, key: str | None = "mg_any"
) -> Iterator[list[socket.socket]]:
    """Clients that declare a body, send a few bytes of it and go quiet."""
    with ExitStack() as stack:
        clients = []
        for _ in range(count):
            client = stack.enter_context(socket.create_connection(("127.0.0.1", port)))
            client.sendall(head(key, 100) + b'{"em')
            clients.append(client)
        yield clients


def read_answer(client: socket.socket, timeout: float) -> bytes:
    client.settimeout(timeout)
    answer = b""
    while chunk := client.recv(4096):
        answer += chunk
    return answer


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    # Two request threads, a short body deadline: a few stalled clients
    # would hold every thread if they could.
    with Service(tmp_path_factory.mktemp("slow") / "data") as service:
        service.env["MEMBERGATE_BODY_TIMEOUT"] = "3"
        service.start("--threads", "2", "--no-worker")
        yield service


def test_stalled_bodies_leave_the_request_threads_to_others(running):
    with stalled_clients(running.port, 6):
        time.sleep(0.5)
        answer = httpx.post(
            f"{running.base_url}/api/v1/members",
            headers={"X-API-Key": running.api_key},
            json={"email": "ada@example.com"},
            timeout=2,
        )
    assert answer.status_code == 201, answer.text


def member_count(service) -> int:
    members = httpx.get(
        f"{service.base_url}/api/v1/members",
        headers={"X-API-Key": service.api_key},
    )
    assert members.status_code == 200
    total: int = members.json()["data"]["total"]
    return total


def split_answer(answer: bytes) -> tuple[str, dict[str, str], bytes]:
    head_lines, _, content = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head_lines.decode().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in header_lines)
    return status_line, headers, content


def test_a_stalled_body_gets_a_408_at_its_deadline_and_nothing_is_applied(running):
    before = member_count(running)
    with stalled_clients(running.port, 1, running.api_key) as (client,):
        started = time.monotonic()
        answer = read_answer(client, timeout=10)
        waited = time.monotonic() - started
    status_line, headers, content = split_answer(answer)
    assert status_line == "HTTP/1.1 408 Request Timeout", answer
    assert json.loads(content)["code"] == "request_timeout"
    assert "within 3 seconds" in json.loads(content)["message"]
    assert headers["connection"] == "close"
    assert 2.5 < waited < 6
    assert member_count(running) == before

    # Like every API call, it is in the request log, under the id it was
    # answered with.
    logged = running.membergate(
        "manage", "shell", "--no-imports", "-c",
        "from membergate.api.models import RequestLog;"
        f"e = RequestLog.objects.get(request_id={headers['x-request-id']!r});"
        "print(e.status_code, e.error_code, e.source_ip)",
    ).stdout  # fmt: skip
    assert logged.split() == ["408", "request_timeout", "127.0.0.1"]


def test_a_stalled_body_that_would_carry_the_key_is_a_408_not_a_failed_sign_in(
    running,
):
    with stalled_clients(running.port, 1, key=None) as (client,):
        status_line, _, content = split_answer(read_answer(client, timeout=10))
    assert status_line == "HTTP/1.1 408 Request Timeout"
    assert json.loads(content)["code"] == "request_timeout"


def test_a_stalled_page_form_gets_a_408_too(running):
    with socket.create_connection(("127.0.0.1", running.port)) as client:
        client.sendall(
            b"POST /account/sign-in/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 100\r\n\r\nemail=a"
        )
        status_line, headers, content = split_answer(read_answer(client, timeout=10))
    assert status_line == "HTTP/1.1 408 Request Timeout"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-request-id"] in content.decode()
    assert "did not arrive within 3 seconds" in content.decode()


def test_a_body_that_keeps_coming_within_the_deadline_is_served(running):
    body = b'{"email": "slow@example.com", "first_name": "Slow"}'
    with socket.create_connection(("127.0.0.1", running.port)) as client:
        client.sendall(head(running.api_key, len(body)))
        for start in range(0, len(body), 10):
            client.sendall(body[start : start + 10])
            time.sleep(0.2)
        answer = read_answer(client, timeout=5)
    assert answer.startswith(b"HTTP/1.1 201"), answer


def test_a_body_declared_over_the_limit_is_refused_unread(running):
    with socket.create_connection(("127.0.0.1", running.port)) as client:
        client.sendall(head(running.api_key, 50_000_000))
        started = time.monotonic()
        client.settimeout(5)
        answer = client.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413"), answer
    assert b"payload_too_large" in answer
    assert time.monotonic() - started < 2.5  # well before the body deadline


def test_a_chunked_body_over_the_limit_is_refused_without_reading_it_all(running):
    chunk = b"x" * 16384
    sent = 0
    answer = b""
    with socket.create_connection(("127.0.0.1", running.port)) as client:
        client.sendall(head(running.api_key, None))
        # Send far more than the limit, chunk by chunk, reading the answer
        # as soon as there is one: the server must not wait for the end.
        while sent < 50_000_000:
            readable, _, _ = select.select([client], [], [], 0)
            if readable:
                break
            try:
                client.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        client.settimeout(5)
        answer = client.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413"), answer
    assert sent < 5_000_000


def test_a_client_that_hangs_up_mid_body_is_forgotten_quietly(running):
    before = member_count(running)
    with stalled_clients(running.port, 2):
        pass  # both close their connections here
    time.sleep(0.5)
    assert member_count(running) == before
    log = running.read_log()
    assert "Traceback" not in log
    assert "ERROR" not in log


def test_raw_bytes_in_the_query_are_refused_not_crashed_on(running):
    with socket.create_connection(("127.0.0.1", running.port)) as client:
        client.sendall(
            b"GET /api/v1/memberships?email=\xff\xfe HTTP/1.1\r\n"
            b"Host: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        answer = read_answer(client, timeout=5)
    assert answer.startswith(b"HTTP/1.1 400"), answer
    assert "Traceback" not in running.read_log()


# The front on its own, without a server.


def run_front(
    messages: list[dict[str, Any]],
    *,
    limit: int = 10,
    headers: tuple[tuple[bytes, bytes], ...] = (),
) -> tuple[list[bytes], list[Message]]:
    """Feed `messages` to BodyFirst; what the app read, and what was sent."""
    seen: list[bytes] = []
    sent: list[Message] = []

    async def handler(scope: Scope, body: bytes, send: Send) -> None:
        seen.append(body)

    async def receive() -> Message:
        return messages.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    front = BodyFirst(handler, limit=limit, timeout=5)
    scope = {"type": "http", "method": "POST", "path": "/", "headers": list(headers)}
    asyncio.run(front(scope, receive, send))
    return seen, sent


def test_the_front_joins_a_body_sent_in_parts():
    seen, sent = run_front(
        [
            {"type": "http.request", "body": b"abc", "more_body": True},
            {"type": "http.request", "body": b"def", "more_body": False},
        ]
    )
    assert seen == [b"abcdef"]
    assert sent == []


def test_the_front_cuts_a_long_body_one_byte_past_the_limit():
    parts = [{"type": "http.request", "body": b"x" * 6, "more_body": True}] * 5
    seen, _ = run_front(parts, limit=10)
    assert seen == [b"x" * 11]
    assert len(parts) == 3  # the front stopped reading past the limit


def test_the_front_does_not_read_a_body_declared_over_the_limit():
    parts = [{"type": "http.request", "body": b"x" * 20, "more_body": False}]
    seen, _ = run_front(parts, limit=10, headers=((b"content-length", b"20"),))
    assert seen == [b""]
    assert len(parts) == 1


def test_the_front_drops_a_request_whose_client_left():
    seen, sent = run_front(
        [
            {"type": "http.request", "body": b"abc", "more_body": True},
            {"type": "http.disconnect"},
        ]
    )
    assert seen == []
    assert sent == []
