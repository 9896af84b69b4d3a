"""core.api_support: content negotiation answers exactly as DRF's does, and output serializers
sharing their fields render exactly as DRF's copies do, request after request and thread
against thread."""

from __future__ import annotations

import datetime
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
from django.http import Http404
from django.test import RequestFactory
from drf_spectacular.plumbing import get_doc
from rest_framework import exceptions, renderers, serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request

from accounts import serializers as accounts_serializers
from accounts.serializers import Derived, UserOutput
from connected_apps import serializers as connected_apps_serializers
from core.api_support import ContentNegotiation, OutputSerializer, shared_readable_fields
from tests.factories import UserFactory


# -- content negotiation ------------------------------------------------------------------------
class CSVRenderer(renderers.BaseRenderer):
    media_type = "text/csv"
    format = "csv"


class VersionedJSONRenderer(renderers.JSONRenderer):
    media_type = "application/json; version=2"


RENDERER_LISTS = [
    [renderers.JSONRenderer],
    [renderers.JSONRenderer, CSVRenderer],
    [CSVRenderer, renderers.JSONRenderer],
    [CSVRenderer],
    [VersionedJSONRenderer, renderers.JSONRenderer],
    [VersionedJSONRenderer],
]
ACCEPTS = [
    None,
    "*/*",
    "application/json",
    "",
    "application/json; indent=4",
    "application/*",
    "text/html",
    "text/csv",
    "text/csv, application/json",
    "application/json;q=0.5, text/csv",
    "*/*; q=0.1",
    "application/json ",
]


def _request(accept: str | None, query: dict | None = None) -> Request:
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    return Request(RequestFactory().get("/accounts/api/profile", query or {}, **headers))


def _negotiate(negotiation, accept, renderer_classes, query=None, format_suffix=None):
    """(index of the renderer, media type), or the exception's class."""
    found = [cls() for cls in renderer_classes]
    try:
        renderer, media_type = negotiation.select_renderer(
            _request(accept, query), found, format_suffix
        )
    except (exceptions.NotAcceptable, Http404) as exc:
        return type(exc)
    return next(i for i, r in enumerate(found) if r is renderer), media_type


@pytest.mark.parametrize("renderer_classes", RENDERER_LISTS)
@pytest.mark.parametrize("accept", ACCEPTS)
def test_negotiation_answers_as_drf_does(accept, renderer_classes):
    expected = _negotiate(DefaultContentNegotiation(), accept, renderer_classes)
    # Twice: the first answer may be remembered, the second comes from memory.
    for _ in range(2):
        assert _negotiate(ContentNegotiation(), accept, renderer_classes) == expected


@pytest.mark.parametrize("accept", [None, "*/*", "application/json"])
def test_negotiation_never_remembers_a_refusal(accept):
    # A media type with parameters matches neither `*/*` nor `application/json` (DRF's rule).
    for _ in range(2):
        assert _negotiate(ContentNegotiation(), accept, [VersionedJSONRenderer]) is (
            exceptions.NotAcceptable
        )
    only_versioned = (VersionedJSONRenderer, VersionedJSONRenderer.media_type)
    assert (accept, only_versioned) not in ContentNegotiation._chosen


@pytest.mark.parametrize("accept", [None, "*/*", "application/json"])
@pytest.mark.parametrize(
    ("query", "suffix"),
    [({"format": "csv"}, None), ({"format": "xml"}, None), ({}, "csv"), ({"format": ""}, None)],
)
def test_negotiation_with_a_format_answers_as_drf_does(accept, query, suffix):
    classes = [renderers.JSONRenderer, CSVRenderer]
    for _ in range(2):
        ours = _negotiate(ContentNegotiation(), accept, classes, query, suffix)
        assert ours == _negotiate(DefaultContentNegotiation(), accept, classes, query, suffix)


@pytest.mark.django_db
def test_an_unacceptable_answer_is_still_406(client):
    # The profile API renders JSON only; the refusal itself is rendered anyway (as DRF does).
    client.force_login(UserFactory())
    for accept, status in [("text/html", 406), ("application/json", 200), ("*/*", 200)]:
        response = client.get("/accounts/api/profile", HTTP_ACCEPT=accept)
        assert response.status_code == status
        assert response["Content-Type"] == "application/json"
    assert client.get("/accounts/api/profile").status_code == 200


# -- output serializers -------------------------------------------------------------------------
def _plain_twin(cls: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """`cls`'s fields on a plain DRF Serializer: what DRF itself renders."""
    return type(f"Plain{cls.__name__}", (serializers.Serializer,), dict(cls._declared_fields))


class Item(OutputSerializer):
    name = serializers.CharField()
    count = serializers.IntegerField()


class Shape(OutputSerializer):
    id = serializers.UUIDField()
    label = serializers.CharField(source="name")
    at = serializers.DateTimeField(allow_null=True)
    tags = serializers.ListField(child=serializers.CharField())
    doubled = Derived(lambda obj: obj.count * 2, serializers.IntegerField())
    items = Item(many=True)
    missing = serializers.CharField(required=False)
    secret = serializers.CharField(write_only=True, required=False)


def _thing(n: int) -> SimpleNamespace:
    return SimpleNamespace(
        id=uuid.UUID(int=n),
        name=f"thing {n}",
        at=None if n % 2 else datetime.datetime(2024, 1, n % 28 + 1, tzinfo=datetime.UTC),
        tags=[f"t{n}", "x"],
        count=n,
        items=[SimpleNamespace(name=f"i{n}.{k}", count=k) for k in range(n % 3)],
        secret="never shown",
    )


def test_output_serializers_render_as_drf_does():
    plain = _plain_twin(Shape)
    assert shared_readable_fields(Shape) is not None
    for n in range(6):
        assert Shape(_thing(n)).data == plain(_thing(n)).data
    assert (
        Shape([_thing(1), _thing(2)], many=True).data
        == plain([_thing(1), _thing(2)], many=True).data
    )
    assert "secret" not in Shape(_thing(3)).data
    assert "missing" not in Shape(_thing(3)).data


def test_each_answer_is_its_own():
    first = Shape(_thing(1)).data
    first["label"] = "changed"
    first["tags"].append("more")
    first["items"].clear()
    assert Shape(_thing(1)).data == _plain_twin(Shape)(_thing(1)).data
    assert Shape(_thing(1)).data is not Shape(_thing(1)).data


def test_concurrent_renders_get_their_own_answers():
    expected = {n: dict(_plain_twin(Shape)(_thing(n)).data) for n in range(16)}
    barrier = threading.Barrier(8)

    def render(worker: int) -> list[bool]:
        barrier.wait()
        return [
            Shape(_thing((worker + k) % 16)).data == expected[(worker + k) % 16] for k in range(400)
        ]

    with ThreadPoolExecutor(8) as pool:
        assert all(all(ok) for ok in pool.map(render, range(8)))


def test_context_is_still_the_instances_own():
    class WithMethod(OutputSerializer):
        name = serializers.CharField()
        viewer = serializers.SerializerMethodField()

        def get_viewer(self, obj):
            return self.context["viewer"]

    class ContextField(serializers.CharField):
        def to_representation(self, value):
            return f"{value} for {self.context['viewer']}"

    class WithContextField(OutputSerializer):
        name = ContextField()

    class Nesting(OutputSerializer):
        inner = WithMethod(source="*")

    assert shared_readable_fields(WithMethod) is None
    assert shared_readable_fields(WithContextField) is None
    assert shared_readable_fields(Nesting) is None
    thing = _thing(1)
    for viewer in ("ann", "bob", "ann"):
        context = {"viewer": viewer}
        assert WithMethod(thing, context=context).data == {"name": "thing 1", "viewer": viewer}
        assert WithContextField(thing, context=context).data == {"name": f"thing 1 for {viewer}"}
        assert Nesting(thing, context=context).data["inner"]["viewer"] == viewer
    # A shared serializer given a context renders as DRF does (its fields never read it).
    assert Shape(thing, context={"request": None}).data == _plain_twin(Shape)(thing).data


def test_defaults_and_serializers_making_their_own_fields_keep_drfs_copy():
    class WithDefault(OutputSerializer):
        name = serializers.CharField(default=lambda: "anonymous")

    class WithPlainDefault(OutputSerializer):
        nickname = serializers.CharField(default="none")

    class OwnFields(OutputSerializer):
        name = serializers.CharField()

        def get_fields(self):
            return {"name": serializers.CharField(source="tags")}

    assert shared_readable_fields(WithDefault) is None
    assert shared_readable_fields(WithPlainDefault) is None
    # A partial serializer skips a missing attribute's default (DRF's get_default).
    assert WithPlainDefault(_thing(1)).data == {"nickname": "none"}
    assert WithPlainDefault(_thing(1), partial=True).data == {}
    assert shared_readable_fields(OwnFields) is None
    assert OwnFields(_thing(1)).data == {"name": "['t1', 'x']"}


def test_an_instance_that_changed_its_fields_renders_them():
    changed = Shape(_thing(1))
    changed.fields.pop("tags")
    assert "tags" not in changed.data
    assert "tags" in Shape(_thing(1)).data


OUTPUT_SERIALIZERS = [
    cls
    for module in (accounts_serializers, connected_apps_serializers)
    for cls in vars(module).values()
    if isinstance(cls, type)
    and issubclass(cls, OutputSerializer)
    and cls.__module__ == module.__name__
]


@pytest.mark.parametrize("cls", OUTPUT_SERIALIZERS, ids=lambda cls: cls.__name__)
def test_every_output_serializer_shares_its_fields(cls):
    """An output serializer that silently fell back to DRF's copy would still be correct,
    only slower: this says which one and why."""
    assert shared_readable_fields(cls) is not None


def test_the_base_adds_no_schema_description():
    # drf-spectacular describes a component with the first docstring up its class's MRO.
    assert OutputSerializer.__doc__ is None
    assert get_doc(UserOutput) == ""


@pytest.mark.django_db
def test_user_output_renders_as_drf_does(member):
    assert UserOutput(member).data == _plain_twin(UserOutput)(member).data
