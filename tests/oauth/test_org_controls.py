"""Org controls at the authorization server (SPEC §6): the feature switch and the allowlist
take effect on the very next request, at /authorize, at the token endpoint and for bearer
tokens already issued."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.access import Access
from connected_apps import controls
from connected_apps.services import connected_app_set_scopes
from oauth.principals import access_token_resolve
from tests.factories import DEFAULT_PASSWORD, IdentityProviderFactory
from tests.oauth.code_flow import (
    AUTHORIZE_URL,
    authorize_query,
    obtain_code,
    pkce_pair,
    redirect_params,
)
from tests.oauth.helpers import mint_access_token
from tests.oauth.tokenkit import (
    JWT_BEARER,
    assert_oauth_error,
    assertion_claims,
    bearer_profile,
    isolated_throttle,  # noqa: F401 (autouse fixture)
    post_form,
    public_pem,
    rsa_key,
    sign,
)

pytestmark = pytest.mark.django_db

FOREIGN_SCOPES = ["openid", "profile", "email", "offline_access", "view:environment"]


@pytest.fixture
def foreign_app(make_app, other_admin):
    """A third-party app: owned by another tenant, open to everyone, code + password."""
    return make_app(
        actor=other_admin,
        client_name="Third Party",
        audience="everyone",
        grant_types=["authorization_code", "refresh_token", "password"],
        scopes=FOREIGN_SCOPES,
    )


@pytest.fixture
def signed_in(member):
    client = Client()
    client.force_login(member)
    return client


def set_controls(admin, org, **values):
    return controls.org_settings_update(access=Access(user=admin), org=org, **values)


def approve(admin, org, app):
    return controls.allowlist_approve(access=Access(user=admin), org=org, client_id=app.client_id)


def password_grant(app_with_secret, user, **extra):
    return {
        "grant_type": "password",
        "username": user.username,
        "password": DEFAULT_PASSWORD,
        "client_id": app_with_secret.app.client_id,
        "client_secret": app_with_secret.client_secret,
        **extra,
    }


def authorize(client, app, **overrides):
    _, challenge = pkce_pair()
    return client.get(AUTHORIZE_URL, authorize_query(app, challenge=challenge, **overrides))


# -- feature switch --------------------------------------------------------------------------------
def test_switching_apps_off_stops_tokens_on_the_next_request(foreign_app, code_app, member, admin):
    foreign = mint_access_token(user=member, app=foreign_app.app, scope="profile")
    own = mint_access_token(user=member, app=code_app.app, scope="profile")
    platform = mint_access_token(user=member, app=None, scope="full")
    assert bearer_profile(foreign).status_code == 200
    assert bearer_profile(own).status_code == 200

    set_controls(admin, member.organization, enabled=False)

    for raw in (foreign, own):
        response = bearer_profile(raw)
        assert response.status_code == 401
        assert 'error="invalid_token"' in response["WWW-Authenticate"]
    assert bearer_profile(platform).status_code == 200  # the user's own token is no app's

    # Introspection agrees: inactive while off.
    introspected = post_form(
        {
            "token": foreign,
            "client_id": foreign_app.app.client_id,
            "client_secret": foreign_app.client_secret,
        },
        url="/accounts/api/v2/oauth2/introspect",
    )
    assert introspected.json() == {"active": False}

    # Switching back on revokes nothing and restores nothing revoked: unexpired tokens work.
    set_controls(admin, member.organization, enabled=True)
    assert bearer_profile(foreign).status_code == 200


def test_switch_only_concerns_the_orgs_users(foreign_app, other_admin, admin, member):
    other = mint_access_token(user=other_admin, app=foreign_app.app, scope="profile")
    set_controls(admin, member.organization, enabled=False)
    assert bearer_profile(other).status_code == 200


def test_authorize_refuses_when_apps_are_off(signed_in, code_app, admin, member):
    set_controls(admin, member.organization, enabled=False)
    params = redirect_params(authorize(signed_in, code_app.app))
    assert params["error"] == "access_denied"
    assert params["error_description"] == controls.FEATURE_DISABLED


def test_password_grant_refused_when_apps_are_off(foreign_app, admin, member):
    set_controls(admin, member.organization, enabled=False)
    body = assert_oauth_error(post_form(password_grant(foreign_app, member)), "invalid_grant")
    assert body["error_description"] == controls.FEATURE_DISABLED


def test_refresh_refused_when_apps_are_off(foreign_app, admin, member):
    response = post_form(password_grant(foreign_app, member))
    assert response.status_code == 200, response.content
    refresh = response.json()["refresh_token"]
    set_controls(admin, member.organization, enabled=False)
    response = post_form(
        {
            "grant_type": "refresh_token",
            "refresh_token": refresh,
            "client_id": foreign_app.app.client_id,
            "client_secret": foreign_app.client_secret,
        }
    )
    body = assert_oauth_error(response, "invalid_grant")
    assert body["error_description"] == controls.FEATURE_DISABLED


# -- allowlist ---------------------------------------------------------------------------------
def test_allowlist_refuses_unlisted_apps_until_approved(foreign_app, signed_in, admin, member):
    raw = mint_access_token(user=member, app=foreign_app.app, scope="profile")
    set_controls(admin, member.organization, allowlist_enabled=True)

    assert bearer_profile(raw).status_code == 401
    params = redirect_params(authorize(signed_in, foreign_app.app))
    assert params["error"] == "access_denied"
    assert params["error_description"] == controls.APP_NOT_ALLOWLISTED
    body = assert_oauth_error(post_form(password_grant(foreign_app, member)), "invalid_grant")
    assert body["error_description"] == controls.APP_NOT_ALLOWLISTED

    approve(admin, member.organization, foreign_app.app)
    assert bearer_profile(raw).status_code == 200
    assert post_form(password_grant(foreign_app, member)).status_code == 200
    _, challenge = pkce_pair()
    assert "code" in obtain_code(signed_in, foreign_app.app, challenge=challenge)

    controls.allowlist_remove(
        access=Access(user=admin), org=member.organization, client_id=foreign_app.app.client_id
    )
    assert bearer_profile(raw).status_code == 401


def test_own_apps_are_implicitly_allowed(code_app, signed_in, admin, member):
    raw = mint_access_token(user=member, app=code_app.app, scope="profile")
    set_controls(admin, member.organization, allowlist_enabled=True)
    assert bearer_profile(raw).status_code == 200
    _, challenge = pkce_pair()
    assert "code" in obtain_code(signed_in, code_app.app, challenge=challenge)


def test_new_scopes_need_reapproval(foreign_app, signed_in, admin, member, other_admin):
    set_controls(admin, member.organization, allowlist_enabled=True)
    approve(admin, member.organization, foreign_app.app)
    connected_app_set_scopes(
        access=Access(user=other_admin), app=foreign_app.app, scopes=[*FOREIGN_SCOPES, "read:users"]
    )
    raw = mint_access_token(user=member, app=foreign_app.app, scope="profile read:users")

    # The new scope is refused; the approved ones keep working.
    params = redirect_params(authorize(signed_in, foreign_app.app, scope="profile read:users"))
    assert params["error"] == "access_denied"
    assert "read:users" in params["error_description"]
    _, challenge = pkce_pair()
    assert "code" in obtain_code(signed_in, foreign_app.app, challenge=challenge)
    body = assert_oauth_error(
        post_form(password_grant(foreign_app, member, scope="profile read:users")),
        "invalid_grant",
    )
    assert "read:users" in body["error_description"]
    principal = access_token_resolve(raw)
    assert principal.effective_scopes == {"profile"}

    approve(admin, member.organization, foreign_app.app)
    assert access_token_resolve(raw).effective_scopes == {"profile", "read:users"}


def test_resolving_a_token_costs_at_most_two_more_queries(
    foreign_app, admin, member, django_assert_num_queries
):
    """The token (with app and user), the app's scopes; then the org's settings row and,
    only with the allowlist on for a foreign app, its entry: indexed lookups, nothing more.
    (The second resolution first checks what this worker remembered from the first, which
    the changes made stale: one statement more, where the check was a Redis round trip.)"""
    raw = mint_access_token(user=member, app=foreign_app.app, scope="profile")
    with django_assert_num_queries(3):
        assert access_token_resolve(raw) is not None
    set_controls(admin, member.organization, allowlist_enabled=True)
    approve(admin, member.organization, foreign_app.app)
    with django_assert_num_queries(1 + 4):
        assert access_token_resolve(raw) is not None


def test_jwt_bearer_refused_when_apps_are_off(make_app, admin, org):
    key = rsa_key()
    app = make_app(
        client_name="Federation",
        grant_types=[JWT_BEARER],
        redirect_uris=[],
        public_keys=[public_pem(key)],
        scopes=["profile"],
    )
    idp = IdentityProviderFactory(organization=org, name="SSO")
    sub = f"v2|{idp.id}|grace|Grace|Hopper|grace@acme.test|"

    def attempt():
        claims = assertion_claims(app.app.client_id, sub)
        return post_form({"grant_type": JWT_BEARER, "assertion": sign(claims, key, "RS256")})

    assert attempt().status_code == 200
    set_controls(admin, org, enabled=False)
    body = assert_oauth_error(attempt(), "invalid_grant")
    assert body["error_description"] == controls.FEATURE_DISABLED


def test_password_grant_without_scope_gets_only_approved_defaults(
    foreign_app, admin, member, other_admin
):
    set_controls(admin, member.organization, allowlist_enabled=True)
    approve(admin, member.organization, foreign_app.app)
    connected_app_set_scopes(
        access=Access(user=other_admin),
        app=foreign_app.app,
        scopes=[*FOREIGN_SCOPES, "read:users"],
    )
    response = post_form(password_grant(foreign_app, member))
    assert response.status_code == 200, response.content
    assert set(response.json()["scope"].split()) == {"profile", "email", "view:environment"}


def test_refresh_keeps_only_approved_scopes(foreign_app, admin, member, other_admin):
    response = post_form(password_grant(foreign_app, member, scope="profile email"))
    refresh = response.json()["refresh_token"]
    set_controls(admin, member.organization, allowlist_enabled=True)
    connected_app_set_scopes(
        access=Access(user=other_admin), app=foreign_app.app, scopes=["profile", "openid"]
    )
    approve(admin, member.organization, foreign_app.app)  # approves profile, openid
    connected_app_set_scopes(
        access=Access(user=other_admin), app=foreign_app.app, scopes=FOREIGN_SCOPES
    )

    def refresh_with(token, **extra):
        return post_form(
            {
                "grant_type": "refresh_token",
                "refresh_token": token,
                "client_id": foreign_app.app.client_id,
                "client_secret": foreign_app.client_secret,
                **extra,
            }
        )

    assert_oauth_error(refresh_with(refresh, scope="email"), "invalid_scope")
    response = refresh_with(refresh)
    assert response.status_code == 200, response.content
    assert response.json()["scope"] == "profile"


def test_switching_apps_off_stops_the_orgs_own_client_credentials_apps(cc_app, admin, org):
    from django.test import Client

    from connected_apps.controls import FEATURE_DISABLED_FOR_OWNER
    from connected_apps.models import OrgAppSettings
    from tests.oauth.helpers import bearer, mint_access_token
    from tests.oauth.tokenkit import client_credentials, post_form

    raw = mint_access_token(user=None, app=cc_app.app, scope="read:organization profile")
    url = f"/accounts/api/organizations/{org.id}"
    assert Client().get(url, **bearer(raw)).status_code == 200
    assert post_form(client_credentials(cc_app)).status_code == 200

    OrgAppSettings.objects.update_or_create(organization=org, defaults={"enabled": False})

    assert Client().get(url, **bearer(raw)).status_code == 401
    response = post_form(client_credentials(cc_app))
    assert response.status_code == 400
    assert response.json() == {
        "error": "unauthorized_client",
        "error_description": FEATURE_DISABLED_FOR_OWNER,
    }

    OrgAppSettings.objects.filter(organization=org).update(enabled=True)
    assert Client().get(url, **bearer(raw)).status_code == 200
