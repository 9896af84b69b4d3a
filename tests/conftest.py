"""Shared fixtures: two tenants (org A with an admin and a member, org B with its admin)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.access import Access
from tests.factories import AdminRoleFactory, OrganizationFactory, UserFactory


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
