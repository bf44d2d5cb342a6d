"""How many durable commits a second the disk under the data dir allows.

SQLite with synchronous=FULL waits for one fsync per commit, so this rate
bounds every write scenario on SQLite; on a shared machine it moves a lot.
"""

import sqlite3
import tempfile
import time
from pathlib import Path


def commits_per_second(directory: Path, seconds: float = 1.0) -> float:
    with tempfile.TemporaryDirectory(dir=directory) as scratch:
        conn = sqlite3.connect(Path(scratch) / "probe.sqlite3", isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("CREATE TABLE probe (id INTEGER PRIMARY KEY, value TEXT)")
            count = 0
            started = time.monotonic()
            while time.monotonic() - started < seconds:
                conn.execute("INSERT INTO probe (value) VALUES ('x')")
                count += 1
            return count / (time.monotonic() - started)
        finally:
            conn.close()
