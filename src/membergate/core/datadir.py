"""A lock on the data dir, so a restore never runs under a live service.

Every `serve` and `worker` on the embedded database holds a shared lock on
DATA_DIR/membergate.lock while it runs; `restore` takes it exclusively. The
kernel drops a process's lock when it exits, however it exits, so a crash
never leaves the data dir locked.
"""

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from django.conf import settings

_held: list[IO[bytes]] = []


def _open_lock_file() -> IO[bytes]:
    return open(settings.DATA_DIR / "membergate.lock", "ab")


def hold_shared_lock() -> None:
    """Mark the data dir as in use until this process exits.

    Waits while a restore is running.
    """
    lock_file = _open_lock_file()
    fcntl.flock(lock_file, fcntl.LOCK_SH)
    _held.append(lock_file)


class DataDirInUse(Exception):
    pass


@contextmanager
def exclusive_lock() -> Iterator[None]:
    """Hold the data dir alone, or raise DataDirInUse at once."""
    with _open_lock_file() as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DataDirInUse from None
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
