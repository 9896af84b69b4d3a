"""Red-team review of a3833a1..eaba59d (issue 16): the per-role dashboard at `/`, an
administrator's password reset and removal of a member, the app page's usage with refusals and
`?days=`, the reworked Create App page, and mail failures as 503.

Every attack goes over HTTP with Django's test client (DRF's APIClient for the JSON API). A
test marked "Found by review" failed against the code before its fix; the others pin a
property an attacker would try to break and found holding.
"""

from __future__ import annotations

import base64

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.access import Access
from audit.models import AuditAction, AuditEvent
from connected_apps.services import connected_app_create
from tests.accounts.member_admin_kit import user_url
from tests.factories import (
    AdminRoleFactory,
    UserFactory,
)
from tests.oauth.helpers import bearer
from tests.oauth.tokenkit import isolated_throttle  # noqa: F401 (autouse fixture)

pytestmark = pytest.mark.django_db

TOKEN_URL = "/accounts/api/v2/oauth2/token"
INTROSPECT_URL = "/accounts/api/v2/oauth2/introspect"
API = "/accounts/api"


def api_as(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=user)
    return client


def browser_as(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def client_credentials(app, secret: str):
    return Client().post(
        TOKEN_URL,
        {"grant_type": "client_credentials", "client_id": app.client_id, "client_secret": secret},
    )


def introspect(app_with_secret, raw: str) -> dict:
    credentials = f"{app_with_secret.app.client_id}:{app_with_secret.client_secret}"
    response = Client().post(
        INTROSPECT_URL,
        {"token": raw},
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(credentials.encode()).decode(),
    )
    assert response.status_code == 200, response.content
    return response.json()


def robot_of(creator, org, scopes: list[str]):
    """An own-behalf app `creator` made in `org`, holding `scopes` there: (app, secret)."""
    created = connected_app_create(
        access=Access(user=creator),
        owner=org,
        client_name="HR Robot",
        grant_types=["client_credentials"],
        scopes=[{"scope": s, "context_params": {"org": str(org.id)}} for s in scopes],
    )
    return created.app, created.client_secret


# -- removal: an own-behalf app its removed creator leaves behind ------------------------------
def test_a_removed_creators_robot_is_refused_by_introspection_and_the_token_endpoint(
    admin, org, code_app
):
    """Found by review, now fixed.

    A developer made an own-behalf app and kept its secret; the admin removes them. The
    resource APIs refuse the app's tokens from then on (it acts with its creator's profile,
    SPEC §3, and there is none), as the removal page promises. But the token endpoint kept
    issuing tokens to it (200, counted as issued), and introspection kept answering
    `"active": true` for them: every resource server that introspects (RFC 7662) went on
    accepting, with the app's scopes, tokens of a robot whose creator is gone."""
    developer = UserFactory(organization=org, username="departing-dev")
    AdminRoleFactory(user=developer, organization=org)
    robot, secret = robot_of(developer, org, ["read:users"])
    issued = client_credentials(robot, secret)
    assert issued.status_code == 200
    before = issued.json()["access_token"]
    assert introspect(code_app, before)["active"] is True  # remembered by this worker

    assert api_as(admin).delete(user_url(org, developer)).status_code == 204

    users = f"{API}/organizations/{org.id}/users"
    assert Client().get(users, **bearer(before)).status_code == 401
    assert introspect(code_app, before) == {"active": False}, "a refused token is active"
    again = client_credentials(robot, secret)
    assert again.status_code in (400, 401), again.content
    assert again.json()["error"] in ("unauthorized_client", "invalid_client")
    assert AuditEvent.objects.filter(
        action=AuditAction.TOKEN_REFUSED, actor_client_id=robot.client_id
    ).exists()
