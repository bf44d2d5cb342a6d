"""Django's SQLite backend, with one process's writers queued on a lock.

Every transaction starts with BEGIN IMMEDIATE, which takes SQLite's write
lock. A second writer that finds it taken waits in SQLite's busy handler,
which sleeps in steps of up to 100 ms and checks again: after the first
writer commits, the database may stand idle for most of a step while the
second sleeps on. Within one process, writers therefore queue on a Python
lock first, and each wakes the moment the previous one commits. Writers in
other processes (the worker, other commands) still meet in SQLite's busy
handler, as before.
"""

import threading
from typing import Any

from django.db.backends.sqlite3 import base

# Longer than any transaction should take; past it a writer stops queueing
# here and leaves the wait to SQLite's own busy timeout.
QUEUE_TIMEOUT_SECONDS = 30

_writers = threading.Lock()


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._queued = False

    def _start_transaction_under_autocommit(self) -> None:
        self._queued = _writers.acquire(timeout=QUEUE_TIMEOUT_SECONDS)
        try:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]
        except BaseException:
            self._leave_queue()
            raise

    def _commit(self) -> None:
        try:
            super()._commit()  # type: ignore[misc]
        finally:
            self._leave_queue()

    def _rollback(self) -> None:
        try:
            super()._rollback()  # type: ignore[misc]
        finally:
            self._leave_queue()

    def _close(self) -> None:
        try:
            super()._close()  # type: ignore[misc]
        finally:
            self._leave_queue()

    def _leave_queue(self) -> None:
        if self._queued:
            self._queued = False
            _writers.release()
