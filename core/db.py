"""Model instances and rows for the hot paths, without the ORM's generic per-field work:
new instances (`model_build`) and several rows inserted in one database round trip
(`rows_insert`); and background work's way out of the request statement timeout
(`statement_timeout_lifted`)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

import psycopg
from django.db import DatabaseError, connection, transaction
from django.db.models import JSONField, Model
from django.db.models.base import ModelState
from django.db.models.fields import AutoFieldMixin, DateTimeField
from django.utils import timezone


@lru_cache(maxsize=64)
def _build_plan(
    model: type[Model],
) -> tuple[dict[str, Any], tuple[tuple[str, Callable], ...], frozenset[str]]:
    """(constant defaults, callable defaults, every attname) of `model`'s concrete fields."""
    constant, per_instance = {}, []
    for field in model._meta.concrete_fields:
        if field.has_default() and callable(field.default):
            per_instance.append((field.attname, field.default))
        else:
            constant[field.attname] = field.get_default()
    attnames = frozenset(constant) | {name for name, _ in per_instance}
    return constant, tuple(per_instance), attnames


def model_build(model: type[Model], **values: Any) -> Model:
    """A new, unsaved `model(**values)` for the hot paths: every concrete field at its
    default (callable defaults called for each instance), then `values`, given by attname
    (`application_id`, not `application`). Skips `__init__`'s generic argument handling and
    its pre_init/post_init signals, which no model built this way has receivers for."""
    instance = model.__new__(model)
    instance.__dict__.update(_field_values(model, values))
    instance._state = ModelState()
    return instance


def _field_values(model: type[Model], values: dict[str, Any]) -> dict[str, Any]:
    """Every concrete field of `model` at its default (callable defaults called each time),
    then `values`, given by attname."""
    constant, per_instance, attnames = _build_plan(model)
    unknown = values.keys() - attnames
    if unknown:
        raise TypeError(f"{model.__name__} has no field attnames {sorted(unknown)}")
    complete = dict(constant)
    for name, default in per_instance:
        if name not in values:
            complete[name] = default()
    complete.update(values)
    return complete


@lru_cache(maxsize=64)
def _rows_plan(
    models: tuple[type[Model], ...], vendor: str, condition: str | None
) -> tuple[str, tuple[tuple[tuple[str, Callable | None], ...], ...]]:
    """The one statement inserting a row of each model, the first ones as data-modifying
    WITH clauses of the last, and for each row how its parameters are read: (attname, what
    encodes the value: a JSON field's encoder, else nothing). Every concrete column is
    written (a database-generated key excepted), so a new column can never go missing.
    With a `condition`, the first row is inserted only where it holds and every other row
    only with the first (the condition is evaluated once)."""
    quote = connection.ops.quote_name
    statements, readers = [], []
    for model in models:
        fields = [
            field
            for field in model._meta.local_concrete_fields
            if not isinstance(field, AutoFieldMixin) and not field.generated
        ]
        row = []
        for field in fields:
            if isinstance(field, JSONField):
                encoder = field.encoder
                row.append((field.attname, lambda value, e=encoder: json.dumps(value, cls=e)))
            else:
                row.append((field.attname, None))
        columns = ", ".join(quote(field.column) for field in fields)
        placeholders = ", ".join(["%s"] * len(fields))
        table = quote(model._meta.db_table)
        # Names come quoted from the model's metadata, the condition from the caller's code;
        # every value is a parameter.
        if condition is None:
            values = f"VALUES ({placeholders})"
        elif not statements:
            values = f"SELECT {placeholders} WHERE {condition} RETURNING 1"
        else:
            values = f"SELECT {placeholders} FROM inserted_0"  # noqa: S608
        statements.append(f"INSERT INTO {table} ({columns}) {values}")
        readers.append(tuple(row))
    *firsts, last = statements
    clauses = ", ".join(f"inserted_{n} AS ({sql})" for n, sql in enumerate(firsts))
    return (f"WITH {clauses} {last}" if clauses else last), tuple(readers)


def rows_insert(
    *rows: tuple[type[Model], dict[str, Any]], only_if: tuple[str, list] | None = None
) -> bool:
    """Insert new rows, all or none, each given as (model, values by attname), for the hot
    paths: on PostgreSQL a single statement in one round trip, prepared once per connection,
    atomic on its own or inside the caller's transaction; elsewhere one save() each inside a
    transaction. A value goes to the database as given, so it must be one the column takes
    as it is: str (a UUID or an IP address as text too), int, bool, None, an aware datetime;
    a JSON field's value is encoded with the field's encoder. A field not named gets its
    default, called per row if callable; auto_now fields get the insert's time. No
    pre_save() runs, no model signal is sent, and auto-increment keys are not read back.

    `only_if` (PostgreSQL only) is an SQL condition and its parameters: the rows are
    inserted only if it holds when the statement runs. Returns whether they were."""
    now = timezone.now()
    complete = [(model, _with_defaults(model, values, now)) for model, values in rows]
    if connection.vendor != "postgresql":
        if only_if is not None:
            raise ValueError("rows_insert(only_if=...) needs PostgreSQL")
        with transaction.atomic():
            for model, values in complete:
                model(**values).save(force_insert=True)
        return True
    condition, condition_params = only_if if only_if is not None else (None, [])
    models = tuple(model for model, _ in rows)
    sql, readers = _rows_plan(models, connection.vendor, condition)
    params = [
        value if encode is None or value is None else encode(value)
        for (_model, values), row in zip(complete, readers, strict=True)
        for attname, encode in row
        for value in (values[attname],)
    ]
    if condition is not None:  # its parameters follow the first row's values
        params[len(readers[0]) : len(readers[0])] = condition_params
    connection.ensure_connection()
    # Errors come out as Django's (IntegrityError, OperationalError...), as from the ORM.
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=True)
        return cursor.rowcount > 0


def _with_defaults(model: type[Model], values: dict[str, Any], now: Any) -> dict[str, Any]:
    complete = _field_values(model, values)
    for attname in _auto_now_attnames(model):
        if attname not in values:
            complete[attname] = now
    return complete


@lru_cache(maxsize=64)
def _auto_now_attnames(model: type[Model]) -> tuple[str, ...]:
    return tuple(
        field.attname
        for field in model._meta.concrete_fields
        if isinstance(field, DateTimeField) and (field.auto_now or field.auto_now_add)
    )


@contextlib.contextmanager
def statement_timeout_lifted() -> Iterator[None]:
    """Inside, this connection's statements are not cancelled at DOORMAN_DB_STATEMENT_TIMEOUT
    (lock waits still are): for Celery work whose statements are long by nature, such as
    deleting a day of audit events, which no request waits for. Afterwards the connection
    is bounded again (RESET: the value it was opened with)."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
    try:
        yield
    finally:
        # A connection that failed meanwhile is discarded, and a rolled back SET undone.
        with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
            cursor.execute("RESET statement_timeout")
