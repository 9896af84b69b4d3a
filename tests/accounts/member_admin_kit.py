"""Who tries to act on a member (issue 16): the callers the administrator-only actions on a
member (disable, password reset, removal) must refuse, built once for every action's tests."""

from __future__ import annotations

from django.test import Client

from accounts.access import Access
from connected_apps.services import connected_app_create
from tests.factories import (
    AdminRoleFactory,
    OrganizationFactory,
    PermissionGrantFactory,
    UserFactory,
)
from tests.oauth.helpers import bearer, mint_access_token

API = "/accounts/api/organizations"


def user_url(org, user) -> str:
    return f"{API}/{org.id}/users/{user.id}"


def portal_url(org, user) -> str:
    return f"/access-management/organizations/{org.id}/users/{user.id}/"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def user_app(admin, org, scopes: list[str]):
    """An app acting on behalf of users, holding `scopes`, created by `admin`."""
    return connected_app_create(
        access=Access(user=admin),
        owner=org,
        client_name="Helpdesk",
        grant_types=["authorization_code", "refresh_token"],
        redirect_uris=["https://helpdesk.example/callback"],
        scopes=scopes,
        audience="internal",
    ).app


def own_behalf_app(admin, org, scopes: list[str]):
    """An app acting on its own behalf, holding `scopes` in `org`, created by `admin`."""
    return connected_app_create(
        access=Access(user=admin),
        owner=org,
        client_name="HR Robot",
        grant_types=["client_credentials"],
        scopes=[{"scope": scope, "context_params": {"org": str(org.id)}} for scope in scopes],
    ).app


def business_group_admin(org):
    """An Organization Administrator of a business group of `org` (not of `org` itself)."""
    team = OrganizationFactory(name="Team", parent=org)
    user = UserFactory(organization=org, username="team-admin")
    AdminRoleFactory(user=user, organization=team)
    return team, user


def users_manager(org):
    """A member holding read:users and manage:users in `org`, and no role."""
    user = UserFactory(organization=org, username="users-manager")
    PermissionGrantFactory(user=user, organization=org, permission="read:users")
    PermissionGrantFactory(user=user, organization=org, permission="manage:users")
    return user


def token_headers(*, user, app, scope: str) -> dict[str, str]:
    return bearer(mint_access_token(user=user, app=app, scope=scope))
