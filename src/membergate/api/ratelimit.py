"""Rate limits shared by every server through the database.

Hits are counted per minute in one row per scope and minute. A limit is
checked against a sliding minute: the hits of the current minute plus the
previous minute's hits weighted by how much of that minute still lies
within the last sixty seconds. A fixed minute alone would let twice the
limit through around each minute's turn.
"""

import math
import time
from dataclasses import dataclass

from django.db import connection
from django.db.models import F

from membergate.api.models import RateCounter

WINDOW_SECONDS = 60


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int
    """Seconds until a further hit would be allowed again; 0 when allowed."""


def hit(
    scope: str, limit: int, *, count_refused: bool, now: float | None = None
) -> Verdict:
    """Count one hit of ``scope`` and say whether it stays within ``limit``.

    One statement increments the minute's row or creates it, so concurrent
    requests on any number of servers never lose a count. With
    ``count_refused`` a refused hit keeps counting, so a sender that keeps
    trying stays refused (for guesses at keys); without it the refused hit
    is taken back, so a good sender is let in again as soon as its earlier
    requests age out.
    """
    now = time.time() if now is None else now
    window = int(now // WINDOW_SECONDS) * WINDOW_SECONDS
    table = RateCounter._meta.db_table
    scope = scope[:100]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (scope, window_start, hits) VALUES (%s, %s, 1) "  # noqa: S608
            "ON CONFLICT (scope, window_start) "
            f"DO UPDATE SET hits = {table}.hits + 1 RETURNING hits",
            [scope, window],
        )
        row = cursor.fetchone()
        assert row is not None
        current = int(row[0])
        cursor.execute(
            f"SELECT hits FROM {table} WHERE scope = %s AND window_start = %s",  # noqa: S608
            [scope, window - WINDOW_SECONDS],
        )
        earlier = cursor.fetchone()
    previous = int(earlier[0]) if earlier else 0
    elapsed = (now - window) / WINDOW_SECONDS
    if current + previous * (1 - elapsed) <= limit:
        return Verdict(True, 0)
    if not count_refused:
        RateCounter.objects.filter(scope=scope, window_start=window).update(
            hits=F("hits") - 1
        )
        current -= 1
    return Verdict(False, _seconds_until_allowed(limit, current, previous, elapsed))


def _seconds_until_allowed(
    limit: int, current: int, previous: int, elapsed: float
) -> int:
    """Seconds from now until one more hit would fit under ``limit``.

    ``elapsed`` is the part of the current minute gone by, from 0 to 1.
    """
    room = limit - 1 - current
    if room >= 0 and previous:
        # Later in this minute the previous minute's weight has fallen enough.
        wait = 1 - room / previous - elapsed
    else:
        # Only in the next minute, once this minute's weight has fallen enough.
        fraction_of_next = max(0.0, 1 - (limit - 1) / current) if current else 0.0
        wait = 1 - elapsed + fraction_of_next
    # Rounded first, so that float noise does not add a second.
    return max(1, math.ceil(round(wait * WINDOW_SECONDS, 6)))


def prune(now: float | None = None) -> int:
    """Delete the counters too old to count against any limit."""
    now = time.time() if now is None else now
    current = int(now // WINDOW_SECONDS) * WINDOW_SECONDS
    deleted, _ = RateCounter.objects.filter(
        window_start__lt=current - WINDOW_SECONDS
    ).delete()
    return deleted
