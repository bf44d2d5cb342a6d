import os
import shutil
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from tests.service import MEMBERGATE, ScratchDatabase, Service

on_postgres = bool(os.environ.get("DATABASE_URL"))
sqlite_only = pytest.mark.skipif(
    on_postgres, reason="backup and restore of the embedded database: SQLite pass"
)

# Creates memberships one transaction at a time until the stop file appears.
WRITER = """
import pathlib
from membergate.members.models import Membership
stop = pathlib.Path({stop!r})
number = 0
while not stop.exists():
    number += 1
    Membership.objects.create(title=f"load {{number}}")
"""


def environment(data_dir: Path) -> dict[str, str]:
    env = {**os.environ, "MEMBERGATE_DATA_DIR": str(data_dir)}
    env.pop("DATABASE_URL", None)
    return env


def membergate(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MEMBERGATE, *args],
        env=environment(data_dir),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def membership_ids(database: Path) -> set[int]:
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        return {row[0] for row in db.execute("SELECT id FROM members_membership")}


def integrity(database: Path) -> list[str]:
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        return [row[0] for row in db.execute("PRAGMA integrity_check")]


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir with a migrated database, made once and copied by each test."""
    data = tmp_path_factory.mktemp("migrated") / "data"
    result = membergate(data, "manage", "migrate")
    assert result.returncode == 0, result.stderr
    return data


@pytest.fixture
def data_dir(migrated: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(migrated, tmp_path / "data"))


@sqlite_only
@pytest.mark.slow
def test_a_backup_under_write_load_holds_every_earlier_row_and_restores(
    data_dir, tmp_path
):
    live = data_dir / "membergate.sqlite3"
    stop = tmp_path / "stop"
    writer = subprocess.Popen(
        [MEMBERGATE, "manage", "shell", "-c", WRITER.format(stop=str(stop))],
        env=environment(data_dir),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while len(membership_ids(live)) < 50 and time.monotonic() < deadline:
            time.sleep(0.1)
        committed_before = membership_ids(live)
        assert len(committed_before) >= 50

        backup = tmp_path / "backup.sqlite3"
        result = membergate(data_dir, "backup", str(backup))
        assert result.returncode == 0, result.stderr
        assert f"Backed up the database to {backup}" in result.stdout

        # Let the writer carry on past the backup before stopping it.
        in_backup = membership_ids(backup)
        while len(membership_ids(live)) <= len(in_backup) + 20:
            time.sleep(0.05)
    finally:
        stop.touch()
        assert writer.wait(30) == 0, writer.stderr.read() if writer.stderr else ""

    assert integrity(backup) == ["ok"]
    assert committed_before <= in_backup
    final = membership_ids(live)
    assert in_backup < final

    result = membergate(data_dir, "restore", str(backup))
    assert result.returncode == 0, result.stderr
    assert membership_ids(live) == in_backup
    assert integrity(live) == ["ok"]
    (aside,) = data_dir.glob("membergate.sqlite3.before-restore-*")
    assert f"kept at {aside}" in result.stdout
    assert membership_ids(aside) == final

    listed = membergate(data_dir, "membership", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.count("load ") == len(in_backup)


@sqlite_only
def test_backup_refuses_to_overwrite_a_file(data_dir, tmp_path):
    existing = tmp_path / "existing"
    existing.write_text("keep me")
    result = membergate(data_dir, "backup", str(existing))
    assert result.returncode == 1
    assert "exists already" in result.stderr
    assert existing.read_text() == "keep me"


@sqlite_only
@pytest.mark.parametrize("kind", ["not sqlite", "foreign sqlite", "corrupt", "missing"])
def test_restore_refuses_a_file_that_is_not_a_sound_backup(data_dir, tmp_path, kind):
    live = data_dir / "membergate.sqlite3"
    before = live.read_bytes()
    candidate = tmp_path / "candidate"
    if kind == "not sqlite":
        candidate.write_text("name,email\nada,ada@example.com\n")
    elif kind == "foreign sqlite":
        with closing(sqlite3.connect(candidate)) as db:
            db.execute("CREATE TABLE notes (body TEXT)")
            db.commit()
    elif kind == "corrupt":
        assert membergate(data_dir, "backup", str(candidate)).returncode == 0
        data = bytearray(candidate.read_bytes())
        data[len(data) // 2 : len(data) // 2 + 4096] = b"\xff" * 4096
        candidate.write_bytes(bytes(data))

    result = membergate(data_dir, "restore", str(candidate))

    assert result.returncode == 1
    assert "nothing was changed" in result.stderr
    assert "Traceback" not in result.stderr
    assert live.read_bytes() == before
    assert list(data_dir.glob("*before-restore*")) == []
    assert list(data_dir.glob(".*restoring")) == []


@sqlite_only
@pytest.mark.slow
def test_restore_refuses_while_the_service_runs(tmp_path):
    with Service(tmp_path / "data") as service:
        service.start()
        backup = tmp_path / "backup.sqlite3"
        made = service.membergate("backup", str(backup))
        assert "Backed up" in made.stdout

        refused = service.membergate("restore", str(backup), check=False)

        assert refused.returncode == 1
        assert "stop every serve and worker first" in refused.stderr
        assert list(service.data_dir.glob("*before-restore*")) == []
        service.stop()

        restored = service.membergate("restore", str(backup), check=False)
        assert restored.returncode == 0, restored.stderr


@pytest.mark.parametrize(
    ("command", "tool"), [("backup", "pg_dump"), ("restore", "pg_restore")]
)
def test_on_postgresql_both_point_to_its_own_tools(tmp_path, command, tool):
    env = {
        **os.environ,
        "MEMBERGATE_DATA_DIR": str(tmp_path),
        "DATABASE_URL": "postgres://membergate@127.0.0.1:1/membergate",
    }
    result = subprocess.run(
        [MEMBERGATE, command, str(tmp_path / "file")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 2
    assert f"use {tool}" in result.stderr
    assert not (tmp_path / "file").exists()


def documented_postgres_commands() -> list[str]:
    """The pg_dump and pg_restore lines of docs/deploy.md, as written there."""
    doc = (Path(__file__).parent.parent / "docs" / "deploy.md").read_text()
    lines = [line.strip() for line in doc.splitlines()]
    return [line for line in lines if line.startswith(("pg_dump ", "pg_restore "))]


@pytest.mark.skipif(not on_postgres, reason="PostgreSQL's own tools: PostgreSQL pass")
@pytest.mark.slow
def test_the_documented_pg_dump_and_pg_restore_carry_everything_over(tmp_path):
    dump, restore = documented_postgres_commands()
    with Service(tmp_path / "data") as service:
        service.start()
        api = httpx.Client(base_url=f"{service.base_url}/api/v1")
        api.headers["X-API-Key"] = service.api_key
        created = api.post("/members", json={"email": "ada@example.com"})
        assert created.status_code == 201, created.text
        service.stop()
        assert service.database.url is not None

        def shell(command: str, database_url: str) -> None:
            env = {**os.environ, "DATABASE_URL": database_url}
            done = subprocess.run(
                ["bash", "-c", command], cwd=tmp_path, env=env,
                capture_output=True, text=True, check=False, timeout=120,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr

        shell(dump, service.database.url)
        empty = ScratchDatabase()
        try:
            assert empty.url is not None
            shell(restore, empty.url)
            service.env["DATABASE_URL"] = empty.url
            service.start()
            found = api.get("/members", params={"email": "ada@example.com"})
        finally:
            service.stop()
            empty.drop()

    assert found.status_code == 200, found.text
    members = found.json()["data"]["members"]
    assert [member["email"] for member in members] == ["ada@example.com"]
