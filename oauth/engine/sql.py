"""The token engine's statements: the only raw SQL of the project, sent through Django's
`connection.cursor()` so that its execute wrappers (query counting, monitoring, the
statement timeout's error translation) see every one.

Column lists come from the models' metadata, quoted by the connection; every value is a
parameter. Rows read back become model instances through `Model.from_db`, as the ORM makes
them.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from functools import lru_cache, partial
from typing import Any

from django.db import connection, connections
from django.db.models import JSONField, Model
from django.db.models.fields import AutoFieldMixin


@lru_cache(maxsize=512)
def quote(name: str) -> str:
    """`name` quoted for the database (the same for every connection of a process: one
    database engine per process)."""
    return connection.ops.quote_name(name)


def table(model: type[Model]) -> str:
    return quote(model._meta.db_table)


@lru_cache(maxsize=64)
def _concrete(model: type[Model]) -> tuple[tuple[str, str], ...]:
    """(attname, column) of every concrete field of `model`, in declaration order."""
    return tuple((field.attname, field.column) for field in model._meta.concrete_fields)


@lru_cache(maxsize=64)
def select_list(model: type[Model], alias: str) -> str:
    """Every concrete column of `model` under `alias`, in `_concrete` order."""
    return ", ".join(f"{alias}.{quote(column)}" for _, column in _concrete(model))


def width(model: type[Model]) -> int:
    return len(_concrete(model))


def instance_from(model: type[Model], values: tuple | list) -> Model | None:
    """The instance a `select_list(model, …)` slice of a row describes (None for a LEFT
    JOIN that found nothing: a null primary key)."""
    database = connections[connection.alias]  # this thread's: converters are bound to it
    attnames, pk_index, converters = _reading_plan(model, database)
    if values[pk_index] is None:
        return None
    values = list(values)
    # What the ORM's converters make of raw column values (SQLite's JSON text, its booleans
    # and UUIDs, for instance).
    for index, column, functions in converters:
        for convert in functions:
            values[index] = convert(values[index], column, database)
    return model.from_db(database.alias, attnames, values)


@lru_cache(maxsize=64)
def _reading_plan(model: type[Model], database: Any) -> tuple[list[str], int, tuple]:
    """(attnames, the primary key's index, (index, column, converters) of every column that
    has converters) for reading `model`'s `select_list` back: worked out once per model and
    database connection (a thread's), not for every row."""
    attnames = [attname for attname, _ in _concrete(model)]
    converters = []
    for index, field in enumerate(model._meta.concrete_fields):
        column = field.get_col(model._meta.db_table)
        functions = database.ops.get_db_converters(column) + field.get_db_converters(database)
        if functions:
            converters.append((index, column, tuple(functions)))
    return attnames, attnames.index(model._meta.pk.attname), tuple(converters)


def fetch_all(sql: str, params: list | tuple) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, _bound(params))
        return cursor.fetchall()


def execute(sql: str, params: list | tuple) -> int:
    """Run one statement; its row count (or, with RETURNING, the rows' count)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, _bound(params))
        if cursor.description is not None:
            return len(cursor.fetchall())
        return cursor.rowcount


@lru_cache(maxsize=64)
def insert_columns(model: type[Model]) -> tuple[tuple[str, str, Any], ...]:
    """(attname, column, encode) of every column an insert writes (not a generated key):
    `encode` makes a JSON field's value its JSON text (with the field's encoder)."""
    columns = []
    for field in model._meta.local_concrete_fields:
        if isinstance(field, AutoFieldMixin) or field.generated:
            continue
        encode = None
        if isinstance(field, JSONField):
            encode = partial(json.dumps, cls=field.encoder)
        columns.append((field.attname, field.column, encode))
    return tuple(columns)


def insert_values(model: type[Model], values: dict[str, Any]) -> tuple[str, list]:
    """(`(columns) SELECT %s, …`, parameters) for one row of `model` given by attname, every
    column named (a missing attname is an error: no column silently takes a default here).
    A value that is an `Expression` goes into the SQL as it is (a reference to another
    clause's row)."""
    expressions = tuple(
        (attname, value.sql) for attname, value in values.items() if isinstance(value, Expression)
    )
    vendor = connection.vendor
    text, bound = _insert_template(model, expressions, vendor)
    params = []
    for attname, encode in bound:
        value = values[attname]
        if encode is not None and value is not None:
            value = encode(value)
        elif encode is None and vendor != "postgresql":
            value = _adapted(model, attname, value)
        params.append(value)
    return text, params


@lru_cache(maxsize=64)
def _insert_template(
    model: type[Model], expressions: tuple[tuple[str, str], ...], vendor: str
) -> tuple[str, tuple[tuple[str, Any], ...]]:
    """`insert_values`' SQL text for `model` with `expressions` in place of some values, and
    the (attname, encode) of each parameter, in order: worked out once per shape."""
    written = dict(expressions)
    names, placeholders, bound = [], [], []
    for attname, column, encode in insert_columns(model):
        names.append(quote(column))
        if attname in written:
            placeholders.append(written[attname])
        else:
            placeholders.append("%s")
            bound.append((attname, encode))
    return f"({', '.join(names)}) SELECT {', '.join(placeholders)}", tuple(bound)


def _bound(params: list | tuple) -> list | tuple:
    """Parameters as the database takes them: PostgreSQL (psycopg) adapts UUIDs and aware
    datetimes itself; elsewhere they go as Django's fields store them."""
    if connection.vendor == "postgresql":
        return params
    return [_bound_value(value) for value in params]


def _bound_value(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, datetime):
        return connection.ops.adapt_datetimefield_value(value)
    return value


def _adapted(model: type[Model], attname: str, value: Any) -> Any:
    field = next(f for f in model._meta.concrete_fields if f.attname == attname)
    return field.get_db_prep_save(value, connection)


class Expression:
    """SQL written by the engine itself (never from input), in place of a parameter."""

    __slots__ = ("sql",)

    def __init__(self, sql: str) -> None:
        self.sql = sql


def row_values(model: type[Model], values: dict[str, Any], now: Any) -> dict[str, Any]:
    """A new row of `model` by attname: every column at its default (callable defaults
    called), auto_now/auto_now_add columns at `now`, then `values`. An unknown attname is
    an error."""
    defaults, attnames = _row_plan(model)
    unknown = values.keys() - attnames
    if unknown:
        raise TypeError(f"{model.__name__} has no column attnames {sorted(unknown)}")
    complete = {attname: now if default is None else default() for attname, default in defaults}
    complete.update(values)
    return complete


@lru_cache(maxsize=64)
def _row_plan(model: type[Model]) -> tuple[tuple[tuple[str, Any], ...], frozenset[str]]:
    """(attname, the field's `get_default`, or None for a column set to `now`) of each column
    an insert writes, and their attnames: worked out once per model."""
    plan = []
    for field in model._meta.local_concrete_fields:
        if isinstance(field, AutoFieldMixin) or field.generated:
            continue
        stamped = getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
        plan.append((field.attname, None if stamped else field.get_default))
    return tuple(plan), frozenset(attname for attname, _ in plan)
