"""Fixed-window rate counters shared by every server through the database."""

import math
import time

from django.db import connection

from membergate.api.models import RateCounter

WINDOW_SECONDS = 60


def hit(scope: str, now: float | None = None) -> tuple[int, int]:
    """Count one hit of ``scope`` in the current minute.

    Return the hits so far in this minute and the seconds until it ends.
    One statement increments the row or creates it, so concurrent requests
    on any number of servers never lose a count.
    """
    now = time.time() if now is None else now
    window = int(now // WINDOW_SECONDS) * WINDOW_SECONDS
    table = RateCounter._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (scope, window_start, hits) VALUES (%s, %s, 1) "  # noqa: S608
            "ON CONFLICT (scope, window_start) "
            f"DO UPDATE SET hits = {table}.hits + 1 RETURNING hits",
            [scope[:100], window],
        )
        row = cursor.fetchone()
    assert row is not None
    retry_after = max(1, math.ceil(window + WINDOW_SECONDS - now))
    return int(row[0]), retry_after


def prune(now: float | None = None) -> int:
    """Delete the counters of minutes that are over."""
    now = time.time() if now is None else now
    current = int(now // WINDOW_SECONDS) * WINDOW_SECONDS
    deleted, _ = RateCounter.objects.filter(window_start__lt=current).delete()
    return deleted
