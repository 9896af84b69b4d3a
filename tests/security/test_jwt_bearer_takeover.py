"""Attack: take over an account through the jwt-bearer grant (issue 12 item 1, SPEC §5).

A member who may only manage apps in one business group registers a jwt-bearer app with
their own key and asserts the root administrator's username. Before the fix the assertion
matched any account by username: a token for the administrator, whose email the assertion
overwrote (a password reset then finished the takeover)."""

from __future__ import annotations

import time
import uuid

import pytest

from accounts.access import Access
from accounts.models import User
from accounts.services import identity_link_create
from connected_apps.services import connected_app_create
from oauth.models import AccessToken
from tests.factories import (
    AdminRoleFactory,
    IdentityProviderFactory,
    OrganizationFactory,
    UserFactory,
)
from tests.oauth.tokenkit import JWT_BEARER, private_pem, public_pem, rsa_key

pytestmark = pytest.mark.django_db(transaction=True)


def signed_assertion(key, client_id: str, audience: str, sub: str) -> str:
    import jwt

    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": sub,
        "aud": audience,
        "iat": now,
        "exp": now + 120,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, private_pem(key), algorithm="RS256")


def admin_jwt_app(tenant, key, *, owner=None, scopes=("profile",), **fields):
    """A jwt-bearer app the root administrator registered (the key holder is not them)."""
    return connected_app_create(
        access=Access(user=tenant["root_admin"]),
        owner=owner or tenant["org"],
        client_name="Federation",
        grant_types=[JWT_BEARER],
        public_keys=[public_pem(key)],
        scopes=list(scopes),
        **fields,
    ).app


def assert_as(http, urls, key, client_id: str, sub: str, **extra):
    """Post `client_id`'s jwt-bearer grant whose assertion, signed with `key`, names `sub`."""
    assertion = signed_assertion(key, client_id, urls["token"], sub)
    return http().post(
        urls["token"], data={"grant_type": JWT_BEARER, "assertion": assertion, **extra}
    )


def takeover_subject(idp, username: str) -> str:
    return f"v2|{idp.id}|{username}|Mallory|Evil|attacker@evil.test|"


def test_a_bg_app_manager_cannot_register_a_jwt_bearer_app_or_key(http, urls, tenant, signed_in):
    key = rsa_key()
    auth = signed_in("bg-dev")
    body = {
        "client_name": "Federation",
        "grant_types": [JWT_BEARER],
        "public_keys": [public_pem(key)],
        "scopes": ["full"],
        "owner_org_id": str(tenant["team"].id),
    }
    created = http().post(urls["api"] + "/connectedApplications", json=body, headers=auth)
    assert created.status_code == 403, created.text
    # Nor a key added afterwards to an app they manage (private_key_jwt is a key too).
    own = http().post(
        urls["api"] + "/connectedApplications",
        json={**body, "grant_types": ["password"], "public_keys": [], "scopes": ["profile"]},
        headers=auth,
    )
    assert own.status_code == 201, own.text
    patched = http().patch(
        urls["api"] + f"/connectedApplications/{own.json()['client_id']}",
        json={"grant_types": ["password", JWT_BEARER], "public_keys": [public_pem(key)]},
        headers=auth,
    )
    assert patched.status_code == 403, patched.text


def test_an_assertion_cannot_name_an_account_its_provider_is_not_linked_to(http, urls, tenant):
    key = rsa_key()
    # Even an app an administrator registered: its key holder is not the administrator.
    app = admin_jwt_app(tenant, key, owner=tenant["team"], scopes=["full", "openid"])
    response = assert_as(
        http, urls, key, app.client_id, takeover_subject(tenant["idp"], "ROOT-ADMIN")
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_grant"
    tenant["root_admin"].refresh_from_db()
    assert tenant["root_admin"].email == "root@acme.test"
    assert not AccessToken.objects.filter(user=tenant["root_admin"]).exists()


def test_a_linked_user_is_still_reached(http, urls, tenant):
    key = rsa_key()
    app = admin_jwt_app(tenant, key)
    identity_link_create(
        access=Access(user=tenant["root_admin"]), provider=tenant["idp"], user=tenant["member"]
    )
    response = assert_as(
        http, urls, key, app.client_id, f"v2|{tenant['idp'].id}|bg-dev|Bee|Gee|bg@acme.test|"
    )
    assert response.status_code == 200, response.text
    profile = http().get(
        urls["profile"], headers={"Authorization": f"Bearer {response.json()['access_token']}"}
    )
    assert profile.json()["username"] == "bg-dev"
    assert profile.json()["firstName"] == "Bee"


def test_a_refused_request_creates_no_user(http, urls, tenant):
    key = rsa_key()
    app = admin_jwt_app(tenant, key)
    sub = takeover_subject(tenant["idp"], "newcomer")
    response = assert_as(http, urls, key, app.client_id, sub, scope="manage:users")
    assert response.status_code == 400, response.text
    assert not User.objects.filter(username="newcomer").exists()


def test_another_orgs_provider_needs_that_orgs_approval(http, urls, tenant):
    key = rsa_key()
    app = admin_jwt_app(tenant, key, audience="everyone")
    globex = OrganizationFactory(name="Globex")
    globex_admin = UserFactory(organization=globex, username="globex-admin")
    AdminRoleFactory(user=globex_admin, organization=globex)
    foreign_idp = IdentityProviderFactory(organization=globex, name="Globex SSO")

    def assert_for(username: str):
        sub = f"v2|{foreign_idp.id}|{username}|G|X|{username}@globex.test|"
        return assert_as(http, urls, key, app.client_id, sub)

    refused = assert_for("stranger")
    assert refused.status_code == 400, refused.text
    assert not User.objects.filter(username="stranger").exists()

    from connected_apps.controls import allowlist_approve, org_settings_update

    globex_access = Access(user=globex_admin)
    allowlist_approve(access=globex_access, org=globex, client_id=app.client_id)
    # An entry on an allowlist Globex does not enforce limits nothing: still refused.
    assert assert_for("stranger").status_code == 400
    org_settings_update(access=globex_access, org=globex, allowlist_enabled=True)
    allowed = assert_for("stranger")
    assert allowed.status_code == 200, allowed.text
    assert User.objects.get(username="stranger").organization == globex
    # Even approved, a foreign app never signs in anyone holding power in Globex.
    identity_link_create(access=globex_access, provider=foreign_idp, user=globex_admin)
    admin_refused = assert_for("globex-admin")
    assert admin_refused.status_code == 400, admin_refused.text
    assert not AccessToken.objects.filter(user=globex_admin).exists()


def bg_admin_takeover(http, urls, tenant, signed_in, key):
    """The BG's administrator registers a jwt-bearer `full` app in their BG (they may)."""
    AdminRoleFactory(user=tenant["member"], organization=tenant["team"])
    auth = signed_in("bg-dev")
    created = http().post(
        urls["api"] + "/connectedApplications",
        json={
            "client_name": "BG Federation",
            "grant_types": [JWT_BEARER],
            "public_keys": [public_pem(key)],
            "scopes": ["full"],
            "owner_org_id": str(tenant["team"].id),
        },
        headers=auth,
    )
    assert created.status_code == 201, created.text
    return created.json()["client_id"], auth


def test_a_bg_admin_cannot_assert_users_of_the_root_orgs_provider(http, urls, tenant, signed_in):
    key = rsa_key()
    identity_link_create(
        access=Access(user=tenant["root_admin"]),
        provider=tenant["idp"],
        user=tenant["root_admin"],
    )
    client_id, _ = bg_admin_takeover(http, urls, tenant, signed_in, key)
    assertion = signed_assertion(
        key, client_id, urls["token"], takeover_subject(tenant["idp"], "root-admin")
    )
    response = http().post(urls["token"], data={"grant_type": JWT_BEARER, "assertion": assertion})
    assert response.status_code == 400, response.text
    tenant["root_admin"].refresh_from_db()
    assert tenant["root_admin"].email == "root@acme.test"


def test_a_bg_admin_cannot_link_the_root_admin_to_their_own_provider(http, urls, tenant, signed_in):
    key = rsa_key()
    client_id, auth = bg_admin_takeover(http, urls, tenant, signed_in, key)
    provider = http().post(
        f"{urls['api']}/organizations/{tenant['team'].id}/identityProviders",
        json={"name": "BG SSO"},
        headers=auth,
    )
    assert provider.status_code == 201, provider.text
    idp_id = provider.json()["id"]
    link = http().post(
        f"{urls['api']}/organizations/{tenant['team'].id}/identityProviders/{idp_id}/users",
        json={"user_id": str(tenant["root_admin"].id)},
        headers=auth,
    )
    assert link.status_code == 403, link.text
    # And a user the BG's provider created, later made root administrator, is out of reach.
    sub = f"v2|{idp_id}|newbie|N|B|newbie@acme.test|"
    first = assert_as(http, urls, key, client_id, sub)
    assert first.status_code == 200, first.text
    AdminRoleFactory(user=User.objects.get(username="newbie"), organization=tenant["org"])
    again = assert_as(http, urls, key, client_id, sub)
    assert again.status_code == 400, again.text


def test_the_portal_form_refuses_a_jwt_bearer_app_to_a_bg_manager(tenant):
    from django.test import Client
    from django.urls import reverse

    from connected_apps.models import ConnectedApp

    client = Client()
    client.force_login(tenant["member"])
    response = client.post(
        reverse("connected_apps:app_create"),
        {
            "submission_id": str(uuid.uuid4()),
            "client_name": "Sneaky",
            "app_type": "user",
            "grant_types": [JWT_BEARER],
            "redirect_uris": "",
            "website_url": "",
            "public_keys": public_pem(rsa_key()),
            "audience": "internal",
            "scopes": ["profile"],
            "owner": str(tenant["team"].id),
        },
    )
    assert response.status_code == 200
    assert not ConnectedApp.objects.filter(name="Sneaky").exists()
    assert "Organization Administrator" in response.content.decode()


def test_an_asserted_email_never_opens_a_password_reset(http, urls, tenant, mailoutbox):
    """Whoever controls an identity provider sets the email of the users it creates: a reset
    link sent there would give them a password for the account, even after it is given
    power the provider cannot reach. Nor does an assertion move a password account's email."""
    from django.test import Client

    key = rsa_key()
    app = admin_jwt_app(tenant, key)
    sub = f"v2|{tenant['idp'].id}|newbie|N|B|mallory@evil.test|"
    assert assert_as(http, urls, key, app.client_id, sub).status_code == 200
    Client().post("/auth/password/reset/", {"email": "mallory@evil.test"})
    # At most allauth's "no account with this address" notice: never a reset link.
    assert all("/password/reset/key/" not in message.body for message in mailoutbox)

    identity_link_create(
        access=Access(user=tenant["root_admin"]), provider=tenant["idp"], user=tenant["member"]
    )
    email_before = tenant["member"].email
    sub = f"v2|{tenant['idp'].id}|bg-dev|Bee|Gee|mallory@evil.test|"
    assert assert_as(http, urls, key, app.client_id, sub).status_code == 200
    tenant["member"].refresh_from_db()
    assert tenant["member"].email == email_before
    assert tenant["member"].first_name == "Bee"
