"""A flood of wrong keys from one address does not shut out other senders."""

import threading
import time

import httpx
import pytest

pytestmark = pytest.mark.slow


def test_a_wrong_key_flood_is_limited_and_other_senders_go_on(service):
    service.start()
    url = f"{service.base_url}/api/v1/memberships"
    stop = threading.Event()
    flood_answers: list[int] = []
    retry_after: list[str] = []

    def flood() -> None:
        with httpx.Client(timeout=5) as client:
            while not stop.is_set():
                answer = client.get(url, params={"opm_api_key": "mg_guessing"})
                flood_answers.append(answer.status_code)
                if answer.status_code == 429:
                    retry_after.append(answer.headers.get("Retry-After", ""))

    flooders = [threading.Thread(target=flood) for _ in range(3)]
    for thread in flooders:
        thread.start()
    good: list[int] = []
    other_address = httpx.HTTPTransport(local_address="127.0.0.2")
    try:
        with httpx.Client(transport=other_address, timeout=5) as sender:
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                answer = sender.get(url, headers={"X-API-Key": service.api_key})
                good.append(answer.status_code)
    finally:
        stop.set()
        for thread in flooders:
            thread.join()

    # 30 failures in any sixty seconds by default.
    assert flood_answers.count(401) <= 30
    assert flood_answers.count(429) > 0
    assert all(value.isdigit() and int(value) >= 1 for value in retry_after)
    assert set(flood_answers) <= {401, 429}
    assert len(good) > 10
    assert set(good) == {200}
