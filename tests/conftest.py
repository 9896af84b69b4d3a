"""Shared fixtures: two tenants (org A with an admin and a member, org B with its admin)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.access import Access
from tests.factories import AdminRoleFactory, OrganizationFactory, UserFactory


@pytest.fixture(autouse=True)
def _fresh_local_cache():
    """The in-process cache forgets between tests: SQLite reuses primary keys after a
    rollback, so a counter keyed by an app's pk must not outlive its test. (Redis runs use
    a per-run key prefix on PostgreSQL, whose sequences never repeat.)"""
    yield
    from django.conf import settings
    from django.core.cache import cache

    from connected_apps import usage
    from oauth.principal_cache import entries_clear

    entries_clear()
    usage._stamped.clear()
    if settings.CACHES["default"]["BACKEND"].endswith("LocMemCache"):
        cache.clear()


@pytest.fixture(autouse=True)
def _isolated_rate_limits(monkeypatch):
    """Each test counts requests under its own rate-limit keys (Redis outlives a test)."""
    import uuid

    from oauth import ratelimit

    monkeypatch.setattr(ratelimit, "KEY_PREFIX", f"ratelimit-{uuid.uuid4().hex}")


@pytest.fixture
def org(db):
    return OrganizationFactory(name="Acme")


@pytest.fixture
def admin(org):
    user = UserFactory(organization=org, username="acme-admin")
    AdminRoleFactory(user=user, organization=org)
    return user


@pytest.fixture
def member(org):
    return UserFactory(organization=org, username="acme-member")


@pytest.fixture
def other_org(db):
    return OrganizationFactory(name="Globex")


@pytest.fixture
def other_admin(other_org):
    user = UserFactory(organization=other_org, username="globex-admin")
    AdminRoleFactory(user=user, organization=other_org)
    return user


@pytest.fixture
def admin_access(admin):
    return Access(user=admin)


@pytest.fixture
def api_client():
    """An API client that sends JSON and enforces CSRF checks like a browser would not skip."""
    return APIClient()


@pytest.fixture
def client_for(api_client):
    """`client_for(user)`: an API client signed in as `user` (session auth)."""

    def make(user):
        client = APIClient()
        client.force_authenticate(user=user)
        return client

    return make


# -- connected apps ---------------------------------------------------------------------------
@pytest.fixture
def make_app(admin):
    """`make_app(**fields)`: a connected app created through the service, with its secret.

    Defaults: an on-behalf-of-user app with authorization_code + refresh_token, one https
    redirect URI, scopes openid profile email offline_access view:environment, owned by `org`.
    """
    from connected_apps.services import connected_app_create

    def make(*, actor=None, owner=None, **fields):
        actor = actor or admin
        values = {
            "client_name": "Test App",
            "grant_types": ["authorization_code", "refresh_token"],
            "redirect_uris": ["https://client.example/callback"],
            "scopes": ["openid", "profile", "email", "offline_access", "view:environment"],
            "audience": "internal",
        }
        values.update(fields)
        return connected_app_create(
            access=Access(user=actor), owner=owner or actor.organization, **values
        )

    return make


@pytest.fixture
def code_app(make_app):
    """AppWithSecret: `.app` and `.client_secret` (shown once)."""
    return make_app()


@pytest.fixture
def cc_app(make_app, org):
    """An own-behalf app holding read:organization and view:environment in `org`."""
    return make_app(
        client_name="CI Robot",
        grant_types=["client_credentials"],
        redirect_uris=[],
        scopes=[
            {"scope": "read:organization", "context_params": {"org": str(org.id)}},
            {"scope": "view:environment", "context_params": {"org": str(org.id)}},
        ],
    )
