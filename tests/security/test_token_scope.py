"""Attack: use more than a client_credentials token was minted for (issue 12 item 3, SPEC
§3). A token asked for with `scope=read:users` created users wherever the app held
`manage:users`: the app's power was used without the token's own scopes."""

from __future__ import annotations

import pytest

from accounts.access import Access
from connected_apps.services import connected_app_create
from tests.factories import AdminRoleFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_narrow_cc_token_cannot_use_the_apps_wider_scopes(http, urls):
    org = OrganizationFactory(name="Acme")
    admin = UserFactory(organization=org, username="root-admin")
    AdminRoleFactory(user=admin, organization=org)
    context = {"org": str(org.id)}
    app = connected_app_create(
        access=Access(user=admin),
        owner=org,
        client_name="HR Robot",
        grant_types=["client_credentials"],
        scopes=[
            {"scope": "read:users", "context_params": context},
            {"scope": "manage:users", "context_params": context},
        ],
    )
    minted = http().post(
        urls["token"],
        data={"grant_type": "client_credentials", "scope": "read:users"},
        auth=(app.app.client_id, app.client_secret),
    )
    assert minted.status_code == 200, minted.text
    assert minted.json()["scope"] == "read:users"
    auth = {"Authorization": f"Bearer {minted.json()['access_token']}"}
    users = f"{urls['api']}/organizations/{org.id}/users"
    assert http().get(users, headers=auth).status_code == 200
    created = http().post(
        users,
        json={
            "username": "planted",
            "email": "planted@acme.test",
            "password": "a-Long-enough-passw0rd!",
            "firstName": "P",
            "lastName": "L",
        },
        headers=auth,
    )
    assert created.status_code == 403, created.text
    assert 'error="insufficient_scope"' in created.headers.get("WWW-Authenticate", "")
