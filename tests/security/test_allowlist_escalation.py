"""Attack: a narrow token approves more than it holds (red-team finding while working on
issue 12, SPEC §10). An administrator's token scoped to `manage:connected_apps` approved
another tenant's `full` app for every user of the org, or switched the allowlist off."""

from __future__ import annotations

import pytest

from accounts.access import Access
from connected_apps.models import AllowlistEntry, OrgAppSettings
from connected_apps.services import connected_app_create
from tests.factories import DEFAULT_PASSWORD, AdminRoleFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_manage_apps_token_cannot_approve_full_or_open_the_allowlist(http, urls):
    acme = OrganizationFactory(name="Acme")
    admin = UserFactory(organization=acme, username="acme-admin")
    AdminRoleFactory(user=admin, organization=acme)
    OrgAppSettings.objects.create(organization=acme, allowlist_enabled=True)
    globex = OrganizationFactory(name="Globex")
    globex_admin = UserFactory(organization=globex, username="globex-admin")
    AdminRoleFactory(user=globex_admin, organization=globex)
    foreign = connected_app_create(
        access=Access(user=globex_admin),
        owner=globex,
        client_name="Everything",
        grant_types=["authorization_code"],
        redirect_uris=["https://everything.example/cb"],
        scopes=["openid", "full"],
        audience="everyone",
    ).app
    robot = connected_app_create(
        access=Access(user=admin),
        owner=acme,
        client_name="Ops",
        grant_types=["password"],
        scopes=["manage:connected_apps"],
    )
    token = http().post(
        urls["token"],
        data={"grant_type": "password", "username": "acme-admin", "password": DEFAULT_PASSWORD},
        auth=(robot.app.client_id, robot.client_secret),
    )
    assert token.status_code == 200, token.text
    assert token.json()["scope"] == "manage:connected_apps"
    auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
    base = f"{urls['api']}/organizations/{acme.id}"
    approve = http().post(
        f"{base}/connectedApplicationsAllowlist",
        json={"client_id": foreign.client_id},
        headers=auth,
    )
    assert approve.status_code == 403, approve.text
    assert not AllowlistEntry.objects.exists()
    opened = http().put(
        f"{base}/connectedApplicationsSettings",
        json={"enabled": True, "allowlist_enabled": False},
        headers=auth,
    )
    assert opened.status_code == 403, opened.text
    assert OrgAppSettings.objects.get(organization=acme).allowlist_enabled is True
    # Closing the org needs only the role and manage:connected_apps.
    closed = http().put(
        f"{base}/connectedApplicationsSettings",
        json={"enabled": False, "allowlist_enabled": True},
        headers=auth,
    )
    assert closed.status_code == 200, closed.text
