"""Copying the embedded SQLite database out and back, while it is in use.

A backup uses SQLite's online backup API in a single step: it reads the
whole database inside one read transaction, so the copy is the database as
it stood when that transaction began, and writers carry on meanwhile (in
WAL mode readers never block them).
"""

import os
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path


class BackupError(Exception):
    pass


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def verify(path: Path) -> None:
    """Raise BackupError unless `path` is a sound Membergate database."""
    if not path.is_file():
        raise BackupError(f"{path} is not a file")
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            problems = [row[0] for row in db.execute("PRAGMA integrity_check")]
            apps = {
                row[0]
                for row in db.execute(
                    "SELECT app FROM django_migrations WHERE app IN ('members', 'apikeys')"
                )
            }
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a Membergate database: {exc}") from None
    if problems != ["ok"]:
        raise BackupError(
            f"{path} fails SQLite's integrity check: {'; '.join(problems[:5])}"
        )
    if apps != {"members", "apikeys"}:
        raise BackupError(f"{path} is not a Membergate database")


def _copy(source: Path, target: Path, *, read_only: bool) -> None:
    """Copy `source` into the new file `target` in one step, then check it."""
    mode = "ro" if read_only else "rw"
    source_db = sqlite3.connect(f"file:{source}?mode={mode}", uri=True, timeout=30)
    target_db = sqlite3.connect(target)
    try:
        source_db.backup(target_db)
        # One self-contained file, with no -wal file beside it to lose.
        target_db.execute("PRAGMA journal_mode=DELETE")
        problems = [row[0] for row in target_db.execute("PRAGMA integrity_check")]
        if problems != ["ok"]:
            raise BackupError(f"the copy fails SQLite's integrity check: {problems}")
    finally:
        target_db.close()
        source_db.close()
    _fsync(target)


def back_up(live: Path, target: Path) -> int:
    """Write a consistent copy of the live database to `target`; return its size.

    Refuses to overwrite: an existing file may be the only good backup.
    """
    if target.exists():
        raise BackupError(f"{target} exists already: choose a new file name")
    if not target.parent.is_dir():
        raise BackupError(f"{target.parent} is not a directory")
    if not live.is_file():
        raise BackupError(f"there is no database at {live} to back up")
    scratch = target.with_name(f".{target.name}.partial-{os.getpid()}")
    try:
        _copy(live, scratch, read_only=False)
        # A link fails when the name was taken meanwhile, where a rename
        # would overwrite it.
        os.link(scratch, target)
    except FileExistsError:
        raise BackupError(f"{target} exists already: choose a new file name") from None
    except sqlite3.Error as exc:
        raise BackupError(f"the backup failed: {exc}") from None
    finally:
        scratch.unlink(missing_ok=True)
    _fsync(target.parent)
    return target.stat().st_size


def restore(backup: Path, live: Path) -> Path | None:
    """Put the database in `backup` in place of the live one.

    The caller makes sure nothing has the live database open. The old
    database is kept beside it; return where (None when there was none). At
    every moment the live path names a complete database, old or new.
    """
    verify(backup)
    scratch = live.with_name(f".{live.name}.restoring")
    scratch.unlink(missing_ok=True)
    try:
        _copy(backup, scratch, read_only=True)
    except sqlite3.Error as exc:
        scratch.unlink(missing_ok=True)
        raise BackupError(f"reading {backup} failed: {exc}") from None

    aside = None
    if live.exists():
        # Fold the write-ahead log into the file, so the file kept aside is
        # whole and no stale -wal is left to be replayed into the restored
        # database.
        with closing(sqlite3.connect(live, timeout=30)) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            db.execute("PRAGMA journal_mode=DELETE")
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        aside = live.with_name(f"{live.name}.before-restore-{stamp}")
        os.link(live, aside)
    for leftover in ("-wal", "-shm"):
        live.with_name(live.name + leftover).unlink(missing_ok=True)
    os.replace(scratch, live)
    _fsync(live.parent)
    return aside
