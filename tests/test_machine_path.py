"""core.middleware (machine requests skip the portal stack) and the rows the token engine
writes."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client

from audit.models import AuditAction, AuditEvent
from core import middleware
from oauth.engine.credentials import token_digest
from oauth.models import AccessToken
from tests.oauth.helpers import bearer, mint_access_token
from tests.oauth.tokenkit import client_credentials, post_form


@pytest.fixture
def portal_stack_calls(monkeypatch):
    """Counts requests that reached the session middleware (the portal stack)."""
    from django.contrib.sessions.middleware import SessionMiddleware

    calls = []
    original = SessionMiddleware.process_request

    def counted(self, request):
        calls.append(request.path)
        return original(self, request)

    monkeypatch.setattr(SessionMiddleware, "process_request", counted)
    return calls


@pytest.mark.django_db
def test_token_and_bearer_requests_skip_the_portal_stack(
    portal_stack_calls, cc_app, admin, code_app
):
    assert post_form(client_credentials(cc_app)).status_code == 200
    raw = mint_access_token(user=admin, app=code_app.app, scope="profile")
    response = Client().get("/accounts/api/profile", **bearer(raw))
    assert response.status_code == 200
    assert response["X-Content-Type-Options"] == "nosniff"  # SecurityMiddleware still ran
    assert response["X-Frame-Options"] == "DENY"
    assert portal_stack_calls == []


@pytest.mark.django_db
def test_portal_requests_and_session_api_calls_take_the_full_stack(portal_stack_calls, admin):
    client = Client()
    client.force_login(admin)
    assert client.get("/accounts/api/profile").status_code == 200
    assert client.get("/auth/login/").status_code in (200, 302)
    assert portal_stack_calls == ["/accounts/api/profile", "/auth/login/"]


@pytest.mark.django_db
def test_an_unknown_api_path_with_a_bearer_gets_the_full_stacks_404(portal_stack_calls):
    response = Client().get("/accounts/api/no-such-thing", HTTP_AUTHORIZATION="Bearer x")
    assert response.status_code == 404
    assert portal_stack_calls == ["/accounts/api/no-such-thing"]


@pytest.mark.django_db
def test_a_view_that_raises_gets_djangos_error_response(monkeypatch, admin, code_app):
    raw = mint_access_token(user=admin, app=code_app.app, scope="profile")
    match = middleware._resolve("/accounts/api/profile")

    def explode(request, *args, **kwargs):
        raise RuntimeError("boom")

    middleware._resolve.cache_clear()
    monkeypatch.setattr(middleware, "_resolve", lambda path: match.__class__(explode, (), {}))
    client = Client(raise_request_exception=False)
    response = client.get("/accounts/api/profile", **bearer(raw))
    assert response.status_code == 500
    assert b"boom" not in response.content


@pytest.mark.django_db
def test_the_engine_writes_every_row(cc_app):
    body = post_form(client_credentials(cc_app)).json()
    token = AccessToken.objects.get()
    assert token.token_checksum == token_digest(body["access_token"])
    stored = AuditEvent.objects.get(action=AuditAction.TOKEN_ISSUED)
    assert stored.details["scope"] == body["scope"] and stored.created_at is not None
    assert stored.organization_id == cc_app.app.owner_org_id and stored.outcome == "success"


@pytest.mark.django_db
def test_the_engine_stores_what_the_orm_stores(cc_app):
    """Rows the engine writes (values as given, defaults and auto_now filled in, JSON
    encoded) read back exactly as the same values saved through the ORM."""
    from django.db import connection
    from django.forms.models import model_to_dict

    assert post_form(client_credentials(cc_app), HTTP_USER_AGENT="t/1").status_code == 200
    fast_token = AccessToken.objects.get()
    fast_event = AuditEvent.objects.get(action=AuditAction.TOKEN_ISSUED)
    skip = {"id", "token_checksum", "created", "updated", "created_at"}
    orm_token = AccessToken.objects.create(
        **{k: v for k, v in model_to_dict(fast_token).items() if k not in skip}
        | {"application": cc_app.app, "token_checksum": "0" * 64}
    )
    orm_event = AuditEvent.objects.create(
        **{
            f.attname: getattr(fast_event, f.attname)
            for f in AuditEvent._meta.concrete_fields
            if f.attname not in skip
        }
    )
    for fast, orm in ((fast_token, orm_token), (fast_event, orm_event)):
        orm.refresh_from_db()
        fast_fields = {k: v for k, v in model_to_dict(fast).items() if k not in skip}
        assert fast_fields == {k: v for k, v in model_to_dict(orm).items() if k not in skip}
    assert fast_token.token == "" and fast_token.resource == []
    if connection.vendor == "postgresql":  # one statement, one time for the whole insert
        assert fast_token.created == fast_token.updated == fast_event.created_at


@pytest.mark.django_db
def test_token_stored_values_are_what_dot_stores(cc_app):
    from django.utils import timezone
    from oauth2_provider.models import set_token_value

    from oauth.tokens import token_stored_values

    raw = uuid.uuid4().hex
    token = AccessToken(application=cc_app.app, scope="p", expires=timezone.now())
    set_token_value(token, raw)
    token.save()
    assert {"token": token.token, "token_checksum": token.token_checksum} == (
        token_stored_values(raw)
    )


def test_the_engines_rows_refuse_an_unknown_field():
    from django.utils import timezone

    from oauth.engine.sql import row_values

    with pytest.raises(TypeError):
        row_values(AuditEvent, {"organization": None}, timezone.now())  # attnames only


@pytest.mark.django_db
def test_model_build_makes_what_the_constructor_makes(cc_app, org, admin):
    from django.utils import timezone

    from core.db import model_build

    expires = timezone.now()
    built = model_build(AccessToken, application_id=cc_app.app.pk, scope="p", expires=expires)
    made = AccessToken(application=cc_app.app, scope="p", expires=expires)
    skip = {"_state", "_application_cache"}
    assert {k: v for k, v in vars(built).items() if k not in skip} == {
        k: v for k, v in vars(made).items() if k not in skip
    }
    assert built._state.adding and built._state.db is None
    first = model_build(AuditEvent, action="x", organization_id=org.id, actor_user_id=admin.pk)
    second = model_build(AuditEvent, action="x")
    assert first.id != second.id  # callable defaults are called for each instance
    first.details["k"] = 1
    assert second.details == {}  # and mutable ones are not shared
    made = AuditEvent(action="x", organization=org, actor_user=admin)
    assert (first.organization_id, first.actor_user_id, first.outcome, first.client_ip) == (
        made.organization_id,
        made.actor_user_id,
        made.outcome,
        made.client_ip,
    )
    with pytest.raises(TypeError):
        model_build(AuditEvent, organization=org)  # attnames only


@pytest.mark.django_db(transaction=True)
def test_the_engine_writes_nothing_when_one_row_fails(cc_app, monkeypatch):
    from oauth.engine import issue

    original = issue.token_event_values

    def broken(**fields):
        return {**original(**fields), "action": None}  # NOT NULL violated: the last row fails

    monkeypatch.setattr(issue, "token_event_values", broken)
    response = Client(raise_request_exception=False).post(
        "/accounts/api/v2/oauth2/token",
        client_credentials(cc_app),
    )
    assert response.status_code == 500
    assert AccessToken.objects.count() == 0
    assert not AuditEvent.objects.filter(action=AuditAction.TOKEN_ISSUED).exists()


@pytest.mark.django_db(transaction=True)
def test_a_client_credentials_token_outside_any_transaction(cc_app):
    """The production shape: no transaction open, so the token and its event are sent as
    prepared statements in one pipelined transaction."""
    response = post_form(client_credentials(cc_app))
    assert response.status_code == 200
    assert AccessToken.objects.count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.TOKEN_ISSUED).count() == 1


def test_the_hot_path_redis_connection_is_never_shared_between_threads(settings):
    """Threaded workers: concurrent commands on one connection would swap replies."""
    import threading

    from django.core.cache import cache

    from core.cache import counter_incr

    if "Redis" not in settings.CACHES["default"]["BACKEND"]:
        pytest.skip("needs Redis")
    key = f"test-threads-{uuid.uuid4().hex}"
    barrier = threading.Barrier(8)
    seen: list[int] = []

    def count() -> None:
        barrier.wait()
        for _ in range(200):
            seen.append(counter_incr(key, 60))

    threads = [threading.Thread(target=count) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(seen) == list(range(1, 1601))
    assert cache.get(key) == 1600
