"""Attack: take over an app someone more powerful set up (red-team finding while working on
issue 12, SPEC §10). A member who may only manage apps rotates the secret of an own-behalf
app an administrator gave `manage:users`, or adds their own redirect URI to a `full` app the
administrator already consented to (remembered consent sends the code without a screen),
and so gets power they do not hold."""

from __future__ import annotations

import pytest

from accounts.access import Access
from connected_apps.models import ConnectedApp
from connected_apps.services import connected_app_create
from tests.factories import (
    PermissionGrantFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def member_auth(tenant, signed_in):
    """The member may manage apps in the root org too (no more)."""
    PermissionGrantFactory(
        user=tenant["member"], organization=tenant["org"], permission="manage:connected_apps"
    )
    return signed_in("bg-dev")


def admin_made(tenant, **fields):
    """An app the root administrator set up in the root org (AppWithSecret)."""
    return connected_app_create(
        access=Access(user=tenant["root_admin"]), owner=tenant["org"], **fields
    )


def admin_robot(tenant, scope: str):
    """An own-behalf app the administrator gave `scope` in the root org (AppWithSecret)."""
    context = {"org": str(tenant["org"].id)}
    return admin_made(
        tenant,
        client_name="HR Robot",
        grant_types=["client_credentials"],
        scopes=[{"scope": scope, "context_params": context}],
    )


def admin_code_app(tenant, scopes: list[str]):
    """A code-flow app the administrator set up, redirecting to directory.example."""
    return admin_made(
        tenant,
        client_name="Directory",
        grant_types=["authorization_code"],
        redirect_uris=["https://directory.example/cb"],
        scopes=scopes,
    ).app


def test_a_manager_cannot_rotate_the_secret_of_an_app_stronger_than_them(
    http, urls, tenant, member_auth
):
    app = admin_robot(tenant, "manage:users").app
    before = ConnectedApp.objects.get(pk=app.pk).client_secret
    apps = urls["api"] + "/connectedApplications"
    rotated = http().post(f"{apps}/{app.client_id}/client-secret", headers=member_auth)
    assert rotated.status_code == 403, rotated.text
    reset = http().patch(f"{apps}/{app.client_id}?resetSecret=true", json={}, headers=member_auth)
    assert reset.status_code == 403, reset.text
    assert ConnectedApp.objects.get(pk=app.pk).client_secret == before


def test_a_manager_cannot_redirect_a_full_apps_codes_to_themselves(http, urls, tenant, member_auth):
    app = admin_made(
        tenant,
        client_name="Admin Console",
        grant_types=["authorization_code"],
        redirect_uris=["https://console.example/cb"],
        scopes=["openid", "full"],
    ).app
    apps = urls["api"] + "/connectedApplications"
    patched = http().patch(
        f"{apps}/{app.client_id}",
        json={"redirect_uris": ["https://console.example/cb", "https://evil.example/cb"]},
        headers=member_auth,
    )
    assert patched.status_code == 403, patched.text
    grants = http().patch(
        f"{apps}/{app.client_id}",
        json={"grant_types": ["authorization_code", "password"]},
        headers=member_auth,
    )
    assert grants.status_code == 403, grants.text
    app.refresh_from_db()
    assert app.redirect_uris == "https://console.example/cb"
    assert app.grant_types == ["authorization_code"]
    # What does not move the app's power stays open to the manager.
    renamed = http().patch(
        f"{apps}/{app.client_id}", json={"client_name": "Console"}, headers=member_auth
    )
    assert renamed.status_code == 200, renamed.text


def test_a_manager_still_rotates_the_secret_of_an_app_within_their_power(
    http, urls, tenant, member_auth
):
    created = http().post(
        urls["api"] + "/connectedApplications",
        json={
            "client_name": "Mine",
            "grant_types": ["authorization_code"],
            "redirect_uris": ["https://mine.example/cb"],
            "scopes": ["openid", "profile", "manage:connected_apps"],
        },
        headers=member_auth,
    )
    assert created.status_code == 201, created.text
    rotated = http().post(
        f"{urls['api']}/connectedApplications/{created.json()['client_id']}/client-secret",
        headers=member_auth,
    )
    assert rotated.status_code in (200, 201), rotated.text


def test_a_change_made_from_a_stale_copy_cannot_undo_a_rotation(http, urls, tenant):
    """A PATCH that loaded the app before the administrator rotated its secret (incident
    response) must not write the old secret back when it saves."""
    from connected_apps.services import connected_app_rotate_secret, connected_app_update

    admin = Access(user=tenant["root_admin"])
    created = admin_robot(tenant, "read:users")
    stale = ConnectedApp.objects.get(pk=created.app.pk)  # a request in flight loaded it
    rotated = connected_app_rotate_secret(access=admin, app=ConnectedApp.objects.get(pk=stale.pk))
    connected_app_update(access=admin, app=stale, changes={"client_name": "Renamed"})

    def token(secret: str) -> int:
        return (
            http()
            .post(
                urls["token"],
                data={"grant_type": "client_credentials"},
                auth=(created.app.client_id, secret),
            )
            .status_code
        )

    assert token(created.client_secret) == 401
    assert token(rotated.client_secret) == 200
    assert ConnectedApp.objects.get(pk=stale.pk).name == "Renamed"


def test_a_new_redirect_uri_asks_users_who_consented_before_again(http, urls, tenant, member_auth):
    """Remembered consent sent codes to any registered URI without a screen: a manager who
    may add a URI (the app holds nothing they lack) must not receive, silently, the codes
    of users who consented to the app as it was."""
    from django.test import Client

    from oauth.services import authorization_grant
    from tests.oauth.code_flow import authorize_url, pkce_pair, redirect_params

    app = admin_code_app(tenant, ["openid", "profile"])
    authorization_grant(user=tenant["root_admin"], app=app, scopes=["openid", "profile"])
    browser = Client()
    browser.force_login(tenant["root_admin"])
    before = browser.get(
        authorize_url(
            app,
            challenge=pkce_pair()[1],
            redirect_uri="https://directory.example/cb",
            scope="openid profile",
        )
    )
    assert redirect_params(before)["code"]  # remembered: no screen

    evil = "https://evil.example/cb"
    patched = http().patch(
        f"{urls['api']}/connectedApplications/{app.client_id}",
        json={"redirect_uris": ["https://directory.example/cb", evil]},
        headers=member_auth,
    )
    assert patched.status_code == 200, patched.text
    silent = browser.get(
        authorize_url(
            app, challenge=pkce_pair()[1], redirect_uri=evil, scope="openid profile", prompt="none"
        )
    )
    assert redirect_params(silent).get("error") == "consent_required"
    screen = browser.get(
        authorize_url(app, challenge=pkce_pair()[1], redirect_uri=evil, scope="openid profile")
    )
    assert screen.status_code == 200
    assert "Allow" in screen.content.decode()


def test_one_narrow_allow_does_not_revive_the_consent_a_new_uri_reset(
    http, urls, tenant, member_auth
):
    """After the reset, an Allow for `openid` alone (a harmless-looking screen) must not make
    the old, wider consent count as fresh for the new URI."""
    from django.test import Client

    from oauth.services import authorization_grant
    from tests.oauth.code_flow import authorize_url, pkce_pair, redirect_params

    app = admin_code_app(tenant, ["openid", "profile", "manage:connected_apps"])
    wide = ["openid", "profile", "manage:connected_apps"]
    authorization_grant(user=tenant["root_admin"], app=app, scopes=wide)
    evil = "https://evil.example/cb"
    patched = http().patch(
        f"{urls['api']}/connectedApplications/{app.client_id}",
        json={"redirect_uris": ["https://directory.example/cb", evil]},
        headers=member_auth,
    )
    assert patched.status_code == 200, patched.text
    app.refresh_from_db()
    authorization_grant(user=tenant["root_admin"], app=app, scopes=["openid"])  # lured Allow
    browser = Client()
    browser.force_login(tenant["root_admin"])
    silent = browser.get(
        authorize_url(
            app, challenge=pkce_pair()[1], redirect_uri=evil, scope=" ".join(wide), prompt="none"
        )
    )
    assert redirect_params(silent).get("error") == "consent_required"


def test_a_developer_keeps_control_of_the_app_they_made(http, urls, tenant, member_auth):
    """An app acting for users has no power of its own: its maker rotates its secret and adds
    redirect URIs without holding the permission scopes users may give it."""
    created = http().post(
        urls["api"] + "/connectedApplications",
        json={
            "client_name": "Reader",
            "grant_types": ["authorization_code"],
            "redirect_uris": ["https://reader.example/cb"],
            "scopes": ["openid", "read:users"],
        },
        headers=member_auth,
    )
    assert created.status_code == 201, created.text
    apps = f"{urls['api']}/connectedApplications/{created.json()['client_id']}"
    assert http().post(f"{apps}/client-secret", headers=member_auth).status_code in (200, 201)
    more = {"redirect_uris": ["https://reader.example/cb", "https://reader.example/cb2"]}
    assert http().patch(apps, json=more, headers=member_auth).status_code == 200


def test_a_manager_cannot_undo_an_administrators_disable(http, urls, tenant, member_auth):
    from connected_apps.services import connected_app_update

    admin = Access(user=tenant["root_admin"])
    app = admin_robot(tenant, "manage:users").app
    connected_app_update(access=admin, app=app, changes={"enabled": False})
    enabled = http().patch(
        f"{urls['api']}/connectedApplications/{app.client_id}",
        json={"enabled": True},
        headers=member_auth,
    )
    assert enabled.status_code == 403, enabled.text
    app.refresh_from_db()
    assert app.enabled is False
