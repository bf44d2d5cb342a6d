"""Counting rows without reading a million of them.

The admin counts a list to page it. On big tables an exact COUNT(*) reads
every row, so lists count exactly only up to EXACT_LIMIT rows and estimate
beyond it: from the planner's statistics for a whole table, or as "more than
EXACT_LIMIT" for a filtered list. Pages past the estimate may be missing;
a search or filter narrows the list to what people look for anyway.
"""

from functools import cached_property
from typing import Any

from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Model, QuerySet

EXACT_LIMIT = 10_000


def estimated_count(queryset: QuerySet[Any]) -> tuple[int, str]:
    """Return the number of rows and how to qualify it.

    The qualifier is "" for an exact count, "about" for an estimate of a
    whole table and "more than" for a filtered list past EXACT_LIMIT.
    """
    counted = queryset.order_by()[: EXACT_LIMIT + 1].count()
    if counted <= EXACT_LIMIT:
        return counted, ""
    if queryset.query.where:
        return EXACT_LIMIT, "more than"
    return max(_table_estimate(queryset), EXACT_LIMIT), "about"


def _table_estimate(queryset: QuerySet[Any]) -> int:
    model: type[Model] = queryset.model
    table = model._meta.db_table
    connection = connections[queryset.db]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # reltuples is -1 until the table is first analysed.
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                [table],
            )
            row = cursor.fetchone()
            if row and row[0] > 0:
                return int(row[0])
        # Without statistics the highest id is a close upper bound, since
        # members are rarely deleted; it is read from the primary key index.
        quote = connection.ops.quote_name
        cursor.execute(
            f"SELECT MAX({quote(model._meta.pk.attname)}) FROM {quote(table)}"  # noqa: S608
        )
        row = cursor.fetchone()
        return int(row[0] or 0) if row else 0


class EstimatingPaginator(Paginator[Any]):
    """A paginator whose count stays cheap on tables of millions of rows."""

    qualifier = ""

    @cached_property
    def count(self) -> int:
        if not isinstance(self.object_list, QuerySet):
            return len(self.object_list)
        total, self.qualifier = estimated_count(self.object_list)
        return total
