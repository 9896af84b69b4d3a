"""Company single sign-on through a SAML identity provider, in a real browser (SPEC §11).

Done when: Acme's administrator registers the test IdP (tests/sso/saml_idp.py, pysaml2 on
127.0.0.1) from its metadata URL through the API and registers Doorman at the IdP from
Doorman's own SP metadata; then a person types their work email on the sign-in page with no
password, signs in at the IdP, and is back on the portal home signed in: a new account in
Acme (not the local "ada" who has a password), linked to the provider, named from the
assertion, audited. Their next sign-in, started by an app's authorization request, reaches the
same account and the app's ID token says the sign-in was federated (`amr` has `fed`).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.http import HttpResponse
from django.urls import include, path
from rest_framework.test import APIClient

from accounts.access import Access
from accounts.models import FederatedIdentity, IdentityProvider, User
from accounts.services import organization_bootstrap, user_create
from audit.models import AuditAction, AuditEvent
from connected_apps.services import connected_app_create
from tests.oauth.code_flow import TOKEN_URL, authorize_url, pkce_pair, unverified_claims
from tests.sso.dns_server import domains_proved
from tests.sso.saml_idp import ATTRIBUTE_NAMES, SamlIdp, saml_idp, saml_idp_server

__all__ = ["saml_idp", "saml_idp_server"]  # the test IdP's fixtures, used below

pytestmark = pytest.mark.browser

ADMIN_PASSWORD = "admin-pass-8f3K2x!"
LOCAL_ADA_PASSWORD = "local-ada-pass-5tG7!"
IDP_PASSWORD = "correct horse battery staple"
ADA = {"uid": "ada", "email": "ada@acme.example", "givenName": "Ada", "sn": "Lovelace"}


def callback_page(request):
    return HttpResponse("<!doctype html><title>Expense Tracker</title><h1>Back at the app</h1>")


urlpatterns = [
    path("client/callback", callback_page),
    path("", include("config.urls")),
]


@pytest.fixture
def callback_url(settings, live_server) -> str:
    settings.ROOT_URLCONF = __name__
    return f"{live_server.url}/client/callback"


@pytest.fixture
def acme(transactional_db):
    return organization_bootstrap(
        org_name="Acme", username="alice", password=ADMIN_PASSWORD, email="alice@acme.example"
    )


@pytest.fixture
def local_ada(acme) -> User:
    """A local account with a password and the same username and email the IdP asserts."""
    return user_create(
        access=Access(user=acme.admin),
        org=acme.organization,
        username="ada",
        email="ada@acme.example",
        password=LOCAL_ADA_PASSWORD,
    )


@pytest.fixture
def provider(acme, live_server, saml_idp: SamlIdp) -> IdentityProvider:
    """The administrator registers the IdP over the API; the IdP trusts Doorman's SP
    metadata (fetched as the IdP's administrator would)."""
    api = APIClient()
    api.force_authenticate(user=acme.admin)
    response = api.post(
        f"/accounts/api/organizations/{acme.organization.id}/identityProviders",
        {
            "name": "Acme IdP",
            "type": "saml",
            "metadata_url": saml_idp.metadata_url,
            "attribute_mapping": {
                "username": ATTRIBUTE_NAMES["uid"],
                "email": ATTRIBUTE_NAMES["email"],
                "first_name": ATTRIBUTE_NAMES["givenName"],
                "last_name": ATTRIBUTE_NAMES["sn"],
            },
            "domains": ["acme.example"],
        },
        format="json",
        HTTP_HOST=urlsplit(live_server.url).netloc,
    )
    assert response.status_code == 201, response.content
    sp = response.json()["sp"]
    provider_id = response.json()["id"]
    assert sp["acs_url"] == f"{live_server.url}/auth/saml/{provider_id}/acs/"
    metadata = requests.get(sp["metadata_url"], timeout=10)
    assert metadata.status_code == 200, metadata.text
    assert saml_idp.add_sp_metadata(metadata.content) == sp["sp_entity_id"]
    saml_idp.add_user("ada", IDP_PASSWORD, ADA)
    provider = IdentityProvider.objects.get(id=provider_id)
    domains_proved(provider)  # as POST …/verifyDomains records it (tests/sso/test_sso_domains.py)
    return provider


def sign_in_at_the_idp(page, screenshot, name: str) -> None:
    from playwright.sync_api import expect

    page.wait_for_url(re.compile(r"^http://127\.0\.0\.1:\d+/sso/redirect\?"))
    expect(page.get_by_role("heading", name="Sign in to the test IdP")).to_be_visible()
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill(IDP_PASSWORD)
    screenshot(page, name)
    page.get_by_role("button", name="Sign in", exact=True).click()


def test_a_work_email_signs_in_at_the_idp(
    page, live_server, callback_url, acme, local_ada, provider, saml_idp, screenshot
):
    from playwright.sync_api import expect

    # -- first sign-in: the work email, no password ---------------------------------------------
    page.goto("/auth/login/")
    page.get_by_label("Username", exact=True).fill("ada@acme.example")
    screenshot(page, "work-email")
    page.get_by_role("button", name="Sign in", exact=True).click()
    sign_in_at_the_idp(page, screenshot, "idp-login")
    # A new member with nothing to manage: the portal's home sends them to My apps.
    page.wait_for_url(f"{live_server.url}/my-apps/")
    expect(page.get_by_role("heading", name="My apps")).to_be_visible()
    screenshot(page, "portal-home")

    link = FederatedIdentity.objects.select_related("user").get(provider=provider)
    ada = link.user
    expect(page.locator(".topbar-username-text")).to_have_text(ada.username)
    expect(page.get_by_text(f"Successfully signed in as {ada.username}.")).to_be_visible()
    assert ada.pk != local_ada.pk
    assert local_ada.has_usable_password()
    assert ada.organization_id == acme.organization.id
    assert not ada.has_usable_password()
    assert (ada.email, ada.first_name, ada.last_name) == ("ada@acme.example", "Ada", "Lovelace")
    assert ada.username != "ada"
    seen = saml_idp.authn_requests[-1]
    assert link.subject == saml_idp.persistent_id("ada", seen.sp_entity_id)
    events = AuditEvent.objects.filter(target_id=str(ada.id)).order_by("created_at")
    assert [(e.action, e.organization_id) for e in events] == [
        (AuditAction.USER_CREATED, acme.organization.id),
        (AuditAction.SSO_SIGNED_IN, acme.organization.id),
    ]
    assert events[1].details["identity_provider"] == str(provider.id)

    # -- next time, an app's authorization request: same account, a federated ID token ------
    page.context.clear_cookies()
    created = connected_app_create(
        access=Access(user=acme.admin),
        owner=acme.organization,
        client_name="Expense Tracker",
        grant_types=["authorization_code"],
        redirect_uris=[callback_url],
        scopes=["openid", "profile"],
    )
    verifier, challenge = pkce_pair()
    page.goto(
        authorize_url(created.app, challenge=challenge, redirect_uri=callback_url, scope="openid")
    )
    page.wait_for_url(re.compile(r"/auth/login/\?next="))
    page.get_by_label("Username", exact=True).fill("ada@acme.example")
    page.get_by_role("button", name="Sign in", exact=True).click()
    sign_in_at_the_idp(page, screenshot, "idp-login-again")
    page.wait_for_url(re.compile(r"/accounts/api/v2/oauth2/authorize\?"))
    expect(page.get_by_role("heading", name="Authorize App")).to_be_visible()
    screenshot(page, "consent")
    page.get_by_role("button", name="Allow", exact=True).click()
    page.wait_for_url(re.compile(rf"^{re.escape(callback_url)}\?"))
    code = parse_qs(urlsplit(page.url).query)["code"][0]
    tokens = requests.post(
        f"{live_server.url}{TOKEN_URL}",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": callback_url,
            "code_verifier": verifier,
            "client_id": created.app.client_id,
            "client_secret": created.client_secret,
        },
        timeout=10,
    )
    assert tokens.status_code == 200, tokens.text
    claims = unverified_claims(tokens.json()["id_token"])
    assert claims["sub"] == str(ada.id)
    assert "fed" in claims["amr"]
    assert "pwd" not in claims["amr"]
    assert User.objects.filter(organization=acme.organization).count() == 3
    assert FederatedIdentity.objects.filter(provider=provider).count() == 1
    assert (
        AuditEvent.objects.filter(target_id=str(ada.id), action=AuditAction.SSO_SIGNED_IN).count()
        == 2
    )


def test_cancel_at_the_idp_comes_back_not_signed_in(page, live_server, provider, screenshot):
    from playwright.sync_api import expect

    page.goto("/auth/login/")
    page.get_by_label("Username", exact=True).fill("ada@acme.example")
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(re.compile(r"^http://127\.0\.0\.1:\d+/sso/redirect\?"))
    page.get_by_role("button", name="Cancel").click()

    page.wait_for_url(re.compile(rf"^{re.escape(live_server.url)}/auth/saml/{provider.id}/acs/"))
    expect(page.get_by_role("heading", name="Third-Party Login Failure")).to_be_visible()
    expect(page.get_by_text("You are not signed in.")).to_be_visible()
    screenshot(page, "cancelled")
    assert not FederatedIdentity.objects.exists()
    page.get_by_role("link", name="Back to sign in").click()
    page.wait_for_url(f"{live_server.url}/auth/login/")
