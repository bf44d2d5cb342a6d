"""Memberships and keys through the CLI; members and grants in bulk SQL.

Seeded members are seed1@bench.example, seed2@bench.example, ...; each
holds every membership in ``membership_ids``.
"""

import sqlite3
import time

import psycopg

from bench.service import Server

MEMBER_COLUMNS = (
    "password, last_login, is_superuser, email, first_name, last_name,"
    " is_active, is_staff, date_joined"
)
GRANT_COLUMNS = (
    "member_id, membership_id, granted_at, expires_at, revoked_at,"
    " granted_by_key_id, granted_by_user_id, revoked_by_key_id, revoked_by_user_id"
)
SQLITE_CHUNK = 200_000


def create_memberships(server: Server, titles: list[str]) -> list[int]:
    return [
        int(server.membergate("membership", "create", "--title", title))
        for title in titles
    ]


def create_api_key(server: Server, name: str) -> str:
    return server.membergate("apikey", "create", "--name", name)


def seed_members(
    server: Server, first: int, last: int, membership_ids: list[int]
) -> float:
    """Insert members ``first``..``last`` with a grant of each membership.

    Return the seconds it took.
    """
    started = time.monotonic()
    if server.database.kind == "postgres":
        _seed_postgres(server.database.url, first, last, membership_ids)
    else:
        _seed_sqlite(str(server.database.sqlite_path), first, last, membership_ids)
    return time.monotonic() - started


def _seed_postgres(url: str, first: int, last: int, membership_ids: list[int]) -> None:
    with psycopg.connect(url) as conn:
        (before,) = conn.execute(
            "SELECT coalesce(max(id), 0) FROM members_member"
        ).fetchone() or (0,)
        conn.execute(
            f"INSERT INTO members_member ({MEMBER_COLUMNS})"
            " SELECT '!', NULL, false, 'seed' || i || '@bench.example',"
            " 'Seed', 'Member', true, false, now()"
            " FROM generate_series(%s::bigint, %s::bigint) AS i",
            [first, last],
        )
        conn.execute(
            f"INSERT INTO members_grant ({GRANT_COLUMNS})"
            " SELECT m.id, s.id, now(), NULL, NULL, NULL, NULL, NULL, NULL"
            " FROM members_member m CROSS JOIN unnest(%s::bigint[]) AS s(id)"
            " WHERE m.id > %s",
            [membership_ids, before],
        )
    with psycopg.connect(url, autocommit=True) as conn:
        # What autovacuum would do on a real database soon after such a load.
        conn.execute("VACUUM ANALYZE members_member")
        conn.execute("VACUUM ANALYZE members_grant")


def _seed_sqlite(path: str, first: int, last: int, membership_ids: list[int]) -> None:
    conn = sqlite3.connect(path, timeout=60, isolation_level=None)
    try:
        conn.execute("PRAGMA foreign_keys=ON")
        placeholders = ",".join("?" * len(membership_ids))
        for start in range(first, last + 1, SQLITE_CHUNK):
            end = min(last, start + SQLITE_CHUNK - 1)
            conn.execute("BEGIN IMMEDIATE")
            (before,) = conn.execute(
                "SELECT coalesce(max(id), 0) FROM members_member"
            ).fetchone()
            conn.execute(
                f"INSERT INTO members_member ({MEMBER_COLUMNS})"
                " WITH RECURSIVE seq(i) AS"
                " (SELECT ? UNION ALL SELECT i + 1 FROM seq WHERE i < ?)"
                " SELECT '!', NULL, 0, 'seed' || i || '@bench.example',"
                " 'Seed', 'Member', 1, 0, strftime('%Y-%m-%d %H:%M:%f', 'now')"
                " FROM seq",
                [start, end],
            )
            conn.execute(
                f"INSERT INTO members_grant ({GRANT_COLUMNS})"
                " SELECT m.id, s.id, strftime('%Y-%m-%d %H:%M:%f', 'now'),"
                " NULL, NULL, NULL, NULL, NULL, NULL"
                " FROM members_member m, members_membership s"
                f" WHERE m.id > ? AND s.id IN ({placeholders})",
                [before, *membership_ids],
            )
            conn.execute("COMMIT")
        conn.execute("ANALYZE")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def count_rows(server: Server, table: str) -> int:
    sql = f"SELECT count(*) FROM {table}"
    if server.database.kind == "postgres":
        with psycopg.connect(server.database.url) as conn:
            row = conn.execute(sql).fetchone()
    else:
        lite = sqlite3.connect(str(server.database.sqlite_path))
        try:
            row = lite.execute(sql).fetchone()
        finally:
            lite.close()
    assert row is not None
    return int(row[0])
