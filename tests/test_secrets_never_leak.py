"""The API key never reaches a log line, a stored record or a file."""

from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

ENDPOINTS = [
    ("POST", "/members"),
    ("PUT", "/members"),
    ("POST", "/members/add-membership"),
    ("POST", "/members/remove-membership"),
    ("GET", "/members/add-membership"),
    ("GET", "/memberships"),
    ("GET", "/members"),
    ("GET", "/members/1"),
]
BASES = ["/api/v1", "/wp-json/opm-api/v1"]


def placements(key: str) -> list[dict[str, object]]:
    """Every way a sender may hand over the key, as httpx arguments."""
    body = {"email": "Leak.Test@Example.com", "memberships": "1", "notify": "1"}
    return [
        {"params": {"opm_api_key": key}, "json": body},
        {"headers": {"X-OPM-API-KEY": key}, "json": body},
        {"headers": {"X-API-Key": key}, "data": body},
        {"headers": {"Authorization": f"Bearer {key}"}, "json": [body]},
        {"json": {**body, "opm_api_key": key}},
        {"data": {**body, "opm_api_key": key}},
        {"files": {"unused": ("a.txt", b"x")}, "data": {**body, "opm_api_key": key}},
        # A wrong key that looks like a real one must not be stored either.
        {"params": {"opm_api_key": key[:-4] + "XXXX"}, "json": body},
    ]


def grep(root: Path, needle: bytes) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file() and needle in path.read_bytes():
            hits.append(str(path))
    return hits


def test_the_key_appears_nowhere_after_every_endpoint_and_placement(service):
    service.membergate("membership", "create", "--title", "Gold")
    service.start()
    key = service.api_key
    calls = 0
    with httpx.Client(base_url=service.base_url, timeout=10) as client:
        for base in BASES:
            for method, path in ENDPOINTS:
                for arguments in placements(key):
                    if method == "GET":
                        arguments = {
                            k: v
                            for k, v in arguments.items()
                            if k in ("params", "headers")
                        }
                    answer = client.request(method, base + path, **arguments)  # type: ignore[arg-type]
                    assert answer.status_code < 500, (method, path, answer.text)
                    assert key not in answer.text
                    calls += 1
    assert calls == len(BASES) * len(ENDPOINTS) * len(placements(key))
    service.stop()

    dump = service.membergate("manage", "dumpdata", "--indent", "0").stdout
    assert '"model": "api.requestlog"' in dump, "the calls were not logged"
    assert key not in dump
    assert key[:-4] not in dump
    assert key not in service.output
    assert key not in service.read_log()
    assert grep(service.data_dir, key.encode()) == []
    assert grep(service.data_dir, key[:-4].encode()) == []


def test_the_first_run_key_is_printed_once_and_never_listed(service):
    service.start()
    assert service.output.count(service.api_key) == 1
    assert service.api_key not in service.membergate("apikey", "list").stdout
