"""Rows read and written on the API's busiest paths, by prepared SQL.

The ORM builds the SQL of every query anew: on a webhook that creates a
member that is about two thirds of the request's CPU time, more than the
database spends on it. These helpers build each statement once per model
and then only convert the values, with the same field conversions the ORM
uses, so what is stored and read back is exactly what the ORM would store
and read. They send no signals and run no ``save()``: use them only for
models whose saving does nothing more than write the row.
"""

from collections.abc import Callable, Iterable, Sequence
from functools import cache
from typing import Any

from django.db import connection, models
from django.db.models import Field, Model

Converter = Callable[[Any, Any, Any], Any]


def insert[M: Model](obj: M) -> M:
    """Insert one new row and give the object its primary key."""
    sql, fields = _insert_statement(type(obj), connection.vendor, 1, "")
    with connection.cursor() as cursor:
        cursor.execute(sql, _values(obj, fields))
        row = cursor.fetchone()
    assert row is not None
    return _saved(obj, row[0])


def insert_unless_taken(obj: Model, unique_column: str) -> bool:
    """Insert the row unless ``unique_column``'s value is taken already.

    Return whether it was inserted. Nothing is raised on the conflict, so
    the surrounding transaction goes on without a savepoint; on
    PostgreSQL a concurrent insert of the same value is waited for.
    """
    conflict = f" ON CONFLICT ({connection.ops.quote_name(unique_column)}) DO NOTHING"
    sql, fields = _insert_statement(type(obj), connection.vendor, 1, conflict)
    with connection.cursor() as cursor:
        cursor.execute(sql, _values(obj, fields))
        row = cursor.fetchone()
    if row is None:
        return False
    _saved(obj, row[0])
    return True


def insert_all(objs: Sequence[Model]) -> None:
    """Insert new rows of one model in one statement.

    The objects do not learn their primary keys: use it where nothing reads
    them back.
    """
    if not objs:
        return
    sql, fields = _insert_statement(type(objs[0]), connection.vendor, len(objs), "")
    params = [value for obj in objs for value in _values(obj, fields)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def select[M: Model](
    model: type[M],
    where: str,
    params: Sequence[Any],
    *,
    order_by: str = "",
    lock: bool = False,
) -> list[M]:
    """The model's rows that match ``where``, an SQL condition on its table.

    Pass dates and times in ``params`` through ``db_value``. ``lock``
    selects FOR UPDATE where the database has it; SQLite's write
    transaction holds the whole database already.
    """
    columns, converters = _select_columns(model, connection.vendor)
    table = connection.ops.quote_name(model._meta.db_table)
    sql = f"SELECT {columns} FROM {table} WHERE {where}"  # noqa: S608
    if order_by:
        sql += f" ORDER BY {order_by}"
    if lock and connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    names = [name for name, _, _ in converters]
    return [model.from_db(None, names, _converted(row, converters)) for row in found]


def db_value(model: type[Model], field_name: str, value: object) -> Any:
    """``value`` as the database stores it in that field, for ``params``.

    SQLite keeps times as text in a format of Django's; a datetime passed
    as it is would be compared as different text.
    """
    field = model._meta.get_field(field_name)
    return field.get_db_prep_value(value, connection)  # type: ignore[union-attr]


def placeholders(values: Iterable[object]) -> str:
    """``%s, %s, ...``: one placeholder per value, for ``IN (...)``."""
    return ", ".join("%s" for _ in values)


def _saved[M: Model](obj: M, pk: object) -> M:
    obj.pk = pk
    obj._state.adding = False
    obj._state.db = connection.alias
    return obj


# Fields whose plain Python values the database takes as they are: for
# these, the ORM's conversions would hand back the value they were given.
_PLAIN_FIELDS = (
    models.BigIntegerField,
    models.BooleanField,
    models.CharField,
    models.EmailField,
    models.FloatField,
    models.IntegerField,
    models.PositiveIntegerField,
    models.PositiveSmallIntegerField,
    models.TextField,
)
_PLAIN_VALUES = (str, int, bool, float, type(None))


def _is_plain(field: Field[Any, Any]) -> bool:
    if isinstance(field, models.ForeignKey):
        return isinstance(field.target_field, models.AutoField | models.BigAutoField)
    return type(field) in _PLAIN_FIELDS


def _values(obj: Model, fields: Sequence[tuple[Field[Any, Any], bool]]) -> list[Any]:
    values = []
    for field, plain in fields:
        value = getattr(obj, field.attname)
        if not (plain and type(value) in _PLAIN_VALUES):
            value = field.get_db_prep_save(field.pre_save(obj, add=True), connection)
        values.append(value)
    return values


# The vendor is part of each cache key: a test run may switch databases.
@cache
def _insert_statement(
    model: type[Model], vendor: str, rows: int, conflict: str
) -> tuple[str, list[tuple[Field[Any, Any], bool]]]:
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(_column(f)) for f in fields)
    one_row = "(" + ", ".join("%s" for _ in fields) + ")"
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) "  # noqa: S608
        f"VALUES {', '.join([one_row] * rows)}{conflict}"
    )
    if rows == 1:
        assert meta.pk is not None
        sql += f" RETURNING {quote(_column(meta.pk))}"
    return sql, [(f, _is_plain(f)) for f in fields]


# Each field's attribute name, its column expression and the conversions
# the ORM applies to the column's values as the database returns them.
Columns = list[tuple[str, Any, list[Converter]]]


@cache
def _select_columns(model: type[Model], vendor: str) -> tuple[str, Columns]:
    meta = model._meta
    quote = connection.ops.quote_name
    converters: Columns = []
    for field in meta.concrete_fields:
        column = field.get_col(meta.db_table)
        found = connection.ops.get_db_converters(column)
        found += column.get_db_converters(connection)
        converters.append((field.attname, column, found))
    columns = ", ".join(quote(_column(f)) for f in meta.concrete_fields)
    return columns, converters


def _column(field: Field[Any, Any]) -> str:
    assert field.column is not None
    return field.column


def _converted(row: Sequence[object], converters: Columns) -> list[object]:
    values = []
    for value, (_, column, found) in zip(row, converters, strict=True):
        for convert in found:
            value = convert(value, column, connection)
        values.append(value)
    return values
