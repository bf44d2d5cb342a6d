import os
import secrets
import subprocess
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection

from tests.service import MEMBERGATE, Service

REDIS_URL = "redis://127.0.0.1:6379/0"


def shell(tmp_path, code: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "MEMBERGATE_DATA_DIR": str(tmp_path), **env}
    return subprocess.run(
        [MEMBERGATE, "manage", "shell", "-c", code],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def redis_or_skip() -> Any:
    """A client of the local Redis; without one, skip, but fail under CI.

    `./run tests` installs and starts Redis, so in CI a missing one is a
    broken set-up, not a reason to leave the shared cache untested.
    """
    missing = pytest.fail if os.environ.get("CI") else pytest.skip
    try:
        import redis
    except ImportError:
        missing("the redis package is not installed")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        missing(f"no Redis answers at {REDIS_URL}")
    return client


@pytest.mark.django_db
def test_the_cache_lives_in_the_database_by_default():
    cache.set("greeting", "hello", 60)
    assert cache.get("greeting") == "hello"
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM membergate_cache")
        assert cursor.fetchone() == (1,)


def test_servers_share_the_cache_through_redis(tmp_path):
    client = redis_or_skip()
    key = f"shared-{secrets.token_hex(6)}"

    written = shell(
        tmp_path,
        f"from django.core.cache import cache; cache.set({key!r}, 'from one', 60)",
        REDIS_URL=REDIS_URL,
    )
    assert written.returncode == 0, written.stderr
    read = shell(
        tmp_path,
        f"from django.core.cache import cache; print(cache.get({key!r}))",
        REDIS_URL=REDIS_URL,
    )

    assert read.returncode == 0, read.stderr
    assert read.stdout.strip().splitlines()[-1] == "from one"
    stored = client.keys(f"membergate:*:{key}")
    assert len(stored) == 1
    client.delete(*stored)


def test_it_refuses_a_redis_url_it_cannot_use_without_echoing_it(tmp_path):
    result = subprocess.run(
        [MEMBERGATE, "membership", "list"],
        env={
            **os.environ,
            "MEMBERGATE_DATA_DIR": str(tmp_path),
            "REDIS_URL": "http://user:s3cret@cache.internal",
        },
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 2
    assert "REDIS_URL must start with redis://" in result.stderr
    assert "s3cret" not in result.stderr


@pytest.mark.slow
def test_serve_creates_the_cache_table(tmp_path):
    with Service(tmp_path / "data") as service:
        service.start()
        used = service.membergate(
            "manage",
            "shell",
            "-c",
            "from django.core.cache import cache; cache.set('k', 'v'); "
            "print(cache.get('k'))",
        )
    assert used.stdout.strip().splitlines()[-1] == "v"
