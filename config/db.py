"""Inserting rows of several models in one database round trip."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import psycopg
from django.db import connection, transaction
from django.db.models import Model
from django.db.models.base import ModelState
from django.db.models.fields import AutoFieldMixin, DateTimeField, Field
from django.db.models.sql import InsertQuery
from django.db.models.sql.compiler import SQLInsertCompiler
from django.utils import timezone

# Values PostgreSQL's adapters take as they are, by the field type Django maps them to: for
# these, `get_db_prep_save` returns the value unchanged (aware datetimes only), so the row is
# read straight from the instance; any other value or field goes through Django.
_AS_IS: dict[str, tuple[type, ...]] = {
    **dict.fromkeys(("CharField", "TextField", "SlugField", "EmailField", "URLField"), (str,)),
    **dict.fromkeys(
        (
            "AutoField",
            "BigAutoField",
            "SmallAutoField",
            "IntegerField",
            "BigIntegerField",
            "SmallIntegerField",
            "PositiveIntegerField",
            "PositiveBigIntegerField",
            "PositiveSmallIntegerField",
        ),
        (int,),
    ),
    "BooleanField": (bool,),
    "UUIDField": (uuid.UUID,),
    "DateTimeField": (datetime.datetime,),
}


@lru_cache(maxsize=64)
def _insert_plan(model: type[Model], vendor: str) -> tuple[str, list, SQLInsertCompiler]:
    """Django's own single-row INSERT for `model` (the SQL is the same for every row), the
    fields it names (a database-generated key is left to the database) and the compiler that
    prepares their values exactly as `save()` would (auto_now fields included)."""
    fields = [
        field
        for field in model._meta.local_concrete_fields
        if not isinstance(field, AutoFieldMixin) and not field.generated
    ]
    query = InsertQuery(model)
    query.insert_values(fields, [model()])
    compiler = query.get_compiler(connection=connection)
    ((sql, _),) = compiler.as_sql()
    return sql, fields, compiler


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
    constant, per_instance, attnames = _build_plan(model)
    unknown = values.keys() - attnames
    if unknown:
        raise TypeError(f"{model.__name__} has no field attnames {sorted(unknown)}")
    instance = model.__new__(model)
    attributes = instance.__dict__
    attributes.update(constant)
    for name, default in per_instance:
        if name not in values:
            attributes[name] = default()
    attributes.update(values)
    instance._state = ModelState()
    return instance


def _value_reader(field, compiler: SQLInsertCompiler) -> Callable[[Model, Any], Any]:
    """How `field`'s database value is read off an instance: what Django's
    `prepare_value(field, pre_save_val(field, instance))` gives, without its generic machinery
    for the common cases (`now` is the insert's time, for auto_now fields)."""
    if isinstance(field, DateTimeField) and (field.auto_now or field.auto_now_add):

        def read_now(instance: Model, now: Any) -> Any:
            setattr(instance, field.attname, now)
            return now

        return read_now
    target = field.target_field if field.is_relation else field
    # A field with its own pre_save (a checksum computed from another field...) goes Django's way.
    own_pre_save = type(field).pre_save is not Field.pre_save
    as_is = () if own_pre_save else _AS_IS.get(target.get_internal_type(), ())
    attname, nullable = field.attname, field.null

    def read(instance: Model, now: Any) -> Any:
        value = instance.__dict__[attname]
        taken_as_is = (
            (isinstance(value, str) and str in as_is)  # str enums (TextChoices) too, as Django
            or type(value) in as_is
            or (value is None and nullable)
        )
        if taken_as_is and (type(value) is not datetime.datetime or value.tzinfo is not None):
            return value
        return compiler.prepare_value(field, compiler.pre_save_val(field, instance))

    return read


@lru_cache(maxsize=64)
def _insert_readers(model: type[Model], vendor: str) -> tuple[Callable, ...]:
    _sql, fields, compiler = _insert_plan(model, vendor)
    return tuple(_value_reader(field, compiler) for field in fields)


def _insert_statement(instance: Model, now: Any) -> tuple[str, list]:
    model, vendor = type(instance), connection.vendor
    sql, _fields, _compiler = _insert_plan(model, vendor)
    return sql, [read(instance, now) for read in _insert_readers(model, vendor)]


def insert_together(*instances: Model) -> None:
    """Insert new rows, all or none, in one round trip on PostgreSQL: a single statement (the
    first INSERTs as data-modifying WITH clauses of the last), prepared once per connection,
    atomic on its own or inside the caller's transaction. Elsewhere one save() each inside a
    transaction. Model signals are not sent, and auto-increment keys are not read back."""
    if connection.vendor != "postgresql":
        with transaction.atomic():
            for instance in instances:
                instance.save(force_insert=True)
        return
    now = timezone.now()
    statements = [_insert_statement(instance, now) for instance in instances]
    *firsts, (last_sql, _) = statements
    clauses = ", ".join(f"inserted_{n} AS ({sql})" for n, (sql, _) in enumerate(firsts))
    sql = f"WITH {clauses} {last_sql}" if clauses else last_sql
    params = [value for _, values in statements for value in values]
    connection.ensure_connection()
    # Errors come out as Django's (IntegrityError, OperationalError...), as from the ORM.
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=True)
    for instance in instances:
        instance._state.adding = False
