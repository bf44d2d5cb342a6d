"""The database settings that make a 2xx answer durable (see Reliability).

SQLite must run in WAL mode with synchronous=FULL (2); PostgreSQL must keep
synchronous_commit and fsync on. Each half runs on its own database.
"""

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

import pytest
from django.db import connection, connections

from tests.service import Service

on_sqlite = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite only")
on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL only"
)

SQLITE_EXPECTED = {"PRAGMA journal_mode": "wal", "PRAGMA synchronous": 2}
POSTGRESQL_EXPECTED = {"SHOW synchronous_commit": "on", "SHOW fsync": "on"}

# Run by `membergate manage shell` beside a live service: the settings it
# reads are the service's, on the service's own database.
SHELL_CODE = """
import json
from django.db import connection, connections
with connection.cursor() as cursor:
    values = []
    for query in {queries!r}:
        cursor.execute(query)
        values.append(cursor.fetchone()[0])
print(json.dumps(values))
"""


def answers(cursor: Any, queries: Mapping[str, object]) -> dict[str, object]:
    found: dict[str, object] = {}
    for query in queries:
        cursor.execute(query)
        found[query] = cursor.fetchone()[0]
    return found


def as_the_service_sees_it(
    service: Service, queries: Mapping[str, object]
) -> dict[str, object]:
    code = SHELL_CODE.format(queries=list(queries))
    printed = service.membergate("manage", "shell", "-c", code).stdout
    return dict(zip(queries, json.loads(printed.splitlines()[-1]), strict=True))


@on_sqlite
def test_django_opens_sqlite_in_wal_mode_with_full_sync(db, tmp_path):
    # The test database lives in memory, which has no WAL: open the same
    # settings on a file, as the service does.
    on_file = {**connection.settings_dict, "NAME": str(tmp_path / "db.sqlite3")}
    opened = type(connections["default"])(on_file)
    try:
        with opened.cursor() as cursor:
            assert answers(cursor, SQLITE_EXPECTED) == SQLITE_EXPECTED
    finally:
        opened.close()


@on_sqlite
@pytest.mark.slow
def test_a_running_service_keeps_sqlite_in_wal_mode_with_full_sync(service):
    service.start()

    # WAL mode is stored in the file: a plain sqlite3 session sees what
    # serve set.
    plain = sqlite3.connect(service.data_dir / "membergate.sqlite3")
    try:
        (mode,) = plain.execute("PRAGMA journal_mode").fetchone()
    finally:
        plain.close()
    assert mode == "wal"
    assert as_the_service_sees_it(service, SQLITE_EXPECTED) == SQLITE_EXPECTED


@on_postgresql
def test_postgresql_commits_synchronously_and_fsyncs(db):
    with connection.cursor() as cursor:
        assert answers(cursor, POSTGRESQL_EXPECTED) == POSTGRESQL_EXPECTED


@on_postgresql
@pytest.mark.slow
def test_a_running_service_commits_synchronously_on_postgresql(service):
    service.start()
    expected = POSTGRESQL_EXPECTED
    assert as_the_service_sees_it(service, expected) == expected
