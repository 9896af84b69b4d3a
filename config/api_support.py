"""Helpers shared by every app's API: list pagination and strict body parsing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db.models import QuerySet
from rest_framework import serializers
from rest_framework.request import Request

DEFAULT_LIMIT = 25
MAX_LIMIT = 500


def _int_param(request: Request, name: str, default: int, maximum: int | None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise serializers.ValidationError({name: ["Must be an integer."]}) from exc
    if value < 0 or (maximum is not None and value > maximum):
        bound = f"between 0 and {maximum}" if maximum is not None else "0 or more"
        raise serializers.ValidationError({name: [f"Must be {bound}."]})
    return value


def paginated(
    request: Request,
    items: QuerySet | Sequence[Any],
    to_data: Callable[[Any], dict[str, Any]],
) -> dict[str, Any]:
    """`{"data": [...], "total": N}` for the `offset`/`limit` window of `items` (SPEC §4)."""
    offset = _int_param(request, "offset", 0, None)
    limit = _int_param(request, "limit", DEFAULT_LIMIT, MAX_LIMIT)
    total = items.count() if isinstance(items, QuerySet) else len(items)
    window = items[offset : offset + limit]
    return {"data": [to_data(item) for item in window], "total": total}


def validated(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    """The request body, checked by `serializer_class`; DRF turns failures into a 400."""
    if not isinstance(request.data, dict):
        raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object."]})
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
