"""Helpers shared by every app's API: list pagination, strict body parsing, content
negotiation and the answers' serializer base."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from rest_framework import parsers, serializers
from rest_framework.exceptions import ParseError
from rest_framework.fields import empty
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request

DEFAULT_LIMIT = 25
MAX_LIMIT = 500
# Both databases take a 64-bit OFFSET; anything past a 32-bit one is a mistake or a probe.
MAX_OFFSET = 2**31 - 1
_DECIMAL = re.compile(r"-?[0-9]+")


def has_lone_surrogate(text: str) -> bool:
    """Whether `text` holds a lone UTF-16 surrogate (JSON's `"\\ud800"` decodes to one): no
    UTF-8 can carry it, so it reaches neither the database nor a log line (a 500 otherwise)."""
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _holds_lone_surrogate(data: Any) -> bool:
    if isinstance(data, str):
        return has_lone_surrogate(data)
    if isinstance(data, dict):
        return any(_holds_lone_surrogate(k) or _holds_lone_surrogate(v) for k, v in data.items())
    if isinstance(data, list):
        return any(_holds_lone_surrogate(item) for item in data)
    return False


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, answering a nesting bomb (`[[[[…`) and text no UTF-8 can carry (a
    lone surrogate) with a 400 instead of a RecursionError or UnicodeEncodeError and a 500."""

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - the document is nested too deeply.") from exc
        if _holds_lone_surrogate(data):
            raise ParseError("JSON parse error - a string holds a lone surrogate.")
        return data


def _int_param(request: Request, name: str, default: int, maximum: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    # Plain ASCII digits only: int() would also take " 7", "1_0" and non-ASCII digits.
    if not _DECIMAL.fullmatch(raw) or len(raw) > 20:
        raise serializers.ValidationError({name: ["Must be an integer."]})
    value = int(raw)
    if not 0 <= value <= maximum:
        raise serializers.ValidationError({name: [f"Must be between 0 and {maximum}."]})
    return value


def bool_param(request: Request, name: str) -> bool:
    """A boolean query parameter as the schema spells it (`true`/`false`; absent or empty is
    false). Anything else is a 400: `includeUsage=yes` must not silently mean false."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return False
    if raw not in ("true", "false"):
        raise serializers.ValidationError({name: ["Must be true or false."]})
    return raw == "true"


def paginated(
    request: Request,
    items: QuerySet | Sequence[Any],
    to_data: Callable[[Any], dict[str, Any]],
) -> dict[str, Any]:
    """`{"data": [...], "total": N}` for the `offset`/`limit` window of `items` (SPEC §4)."""
    offset = _int_param(request, "offset", 0, MAX_OFFSET)
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


def renamed_fields(exc: ValidationError, names: dict[str, str]) -> ValidationError:
    """A service's ValidationError with its field names in the API's spelling
    (`first_name` -> `firstName`), so `fields` names what the client sent."""
    if not hasattr(exc, "error_dict"):
        return exc
    return ValidationError(
        {names.get(field, field): errors for field, errors in exc.error_dict.items()}
    )


# Accept headers nearly every API client sends (None: no header at all).
USUAL_ACCEPTS = frozenset({None, "*/*", "application/json"})


class ContentNegotiation(DefaultContentNegotiation):
    """DRF's content negotiation, remembering its answer for the usual Accept headers.

    The answer is a function of the Accept header and the renderers' media types only (when
    no `?format=` or format suffix narrows the renderers), so for the few headers in
    USUAL_ACCEPTS it is DRF's own first answer for those renderers, reused: the same renderer
    and media type, without parsing the header on every request. Any other header, a format,
    or a refusal (406, never remembered) goes through DRF every time. Bounded: at most
    len(USUAL_ACCEPTS) entries per distinct list of renderers the views declare."""

    _chosen: dict[tuple, tuple[int, str]] = {}  # (accept, renderers) -> (index, media type)

    def select_renderer(
        self, request: Request, renderers: list[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        accept = request.META.get("HTTP_ACCEPT")
        if accept not in USUAL_ACCEPTS or format_suffix or self._format_asked(request):
            return super().select_renderer(request, renderers, format_suffix)
        key = (accept, *((type(renderer), renderer.media_type) for renderer in renderers))
        chosen = self._chosen.get(key)
        if chosen is None:
            renderer, media_type = super().select_renderer(request, renderers, format_suffix)
            index = next(i for i, candidate in enumerate(renderers) if candidate is renderer)
            chosen = self._chosen[key] = (index, media_type)
        return renderers[chosen[0]], chosen[1]

    def _format_asked(self, request: Request) -> bool:
        name = self.settings.URL_FORMAT_OVERRIDE
        return bool(name and request.query_params.get(name))


# A serializer for answers whose rendering reuses one bound copy of its fields per class.
#
# DRF deep-copies and binds every declared field for each serializer instance (so that an
# instance may change its own fields): a quarter of a small API call. Rendering a field
# changes nothing on it, so the copy is needed only where a field's output can depend on
# the serializer it is bound to or its context (the request). An instance therefore renders
# with its class's shared fields (`shared_readable_fields`) when every field qualifies (see
# `_context_free`), and with DRF's own copy otherwise, or once anything has read this
# instance's `fields` (perhaps to change them). Parsing (`data=`), validation and the
# OpenAPI schema always use DRF's per-instance fields.
#
# (A comment, not a docstring: drf-spectacular would make a docstring the schema description
# of every output serializer that has none of its own.)
class OutputSerializer(serializers.Serializer):
    @property
    def _readable_fields(self):
        if "fields" not in self.__dict__:
            shared = shared_readable_fields(type(self))
            if shared is not None:
                return shared
        return super()._readable_fields


# OutputSerializer subclass -> its readable fields, bound once, or None (DRF's copy per instance).
_shared_fields: dict[type[OutputSerializer], tuple[serializers.Field, ...] | None] = {}

# DRF fields whose output reads the serializer or the request (SerializerMethodField its
# parent's method, a file field the request's host, a hidden field its default).
_CONTEXTUAL = (serializers.SerializerMethodField, serializers.FileField, serializers.HiddenField)


def shared_readable_fields(
    cls: type[OutputSerializer],
) -> tuple[serializers.Field, ...] | None:
    """The readable fields every instance of `cls` may render with, bound to a prototype
    instance that nothing else sees; None when `cls` makes its fields its own way or one of
    them may depend on the request. Built once (two threads racing build two equal tuples and
    keep one)."""
    try:
        return _shared_fields[cls]
    except KeyError:
        pass
    base = serializers.Serializer
    shared = None
    if (
        cls.__init__ is base.__init__
        and cls.get_fields is base.get_fields
        and cls.fields is base.fields
    ):
        fields = cls().fields.values()
        if all(_context_free(field) for field in fields):
            shared = tuple(field for field in fields if not field.write_only)
    return _shared_fields.setdefault(cls, shared)


def _context_free(field: serializers.Field) -> bool:
    """Whether `field`'s output depends on the value alone: DRF's own `get_attribute` and
    `to_representation` (or a field class saying `context_free = True`), no default (DRF's
    get_default asks the root serializer whether it is `partial`, and a callable default
    gets the field, whose context is the request's), its child and nested serializers
    likewise."""
    if isinstance(field, serializers.ListSerializer):
        return _context_free(field.child)
    if isinstance(field, serializers.BaseSerializer):
        return (
            isinstance(field, OutputSerializer) and shared_readable_fields(type(field)) is not None
        )
    if isinstance(field, _CONTEXTUAL) or field.default is not empty:
        return False
    child = getattr(field, "child", None)
    if child is not None and not _context_free(child):
        return False
    if getattr(field, "context_free", False):
        return True
    return all(
        _defined_by_drf(type(field), name) for name in ("get_attribute", "to_representation")
    )


def _defined_by_drf(cls: type, name: str) -> bool:
    owner = next(klass for klass in cls.__mro__ if name in klass.__dict__)
    return owner.__module__ == "rest_framework.fields"
