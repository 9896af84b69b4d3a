"""Inserting rows of several models in one database round trip."""

from __future__ import annotations

from functools import lru_cache

import psycopg
from django.db import connection, transaction
from django.db.models import Model
from django.db.models.fields import AutoFieldMixin
from django.db.models.sql import InsertQuery
from django.db.models.sql.compiler import SQLInsertCompiler


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


def _insert_statement(instance: Model) -> tuple[str, list]:
    sql, fields, compiler = _insert_plan(type(instance), connection.vendor)
    params = [
        compiler.prepare_value(field, compiler.pre_save_val(field, instance)) for field in fields
    ]
    return sql, params


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
    statements = [_insert_statement(instance) for instance in instances]
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
