"""Model instances for the hot paths, without the ORM's generic per-field work
(`model_build`); and background work's way out of the request statement timeout
(`statement_timeout_lifted`). (Rows the token endpoint writes: oauth.engine.)"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

from django.db import DatabaseError, connection
from django.db.models import Model
from django.db.models.base import ModelState


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
