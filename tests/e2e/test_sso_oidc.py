"""Company SSO through an upstream OpenID Connect provider, in a real browser (issue 15).

Done when: a member of an SSO org signs in through the upstream OIDC IdP (node
`oidc-provider`, tests/sso/upstream.py) and lands in the right org, linked, with `amr`
containing `fed`. Here an app's authorization URL sends Ada to the sign-in page; her work
email routes her to her company's IdP (home-realm discovery); she signs in there, comes back,
allows the app, and the app's ID token says `fed`. Her account is created just in time in
Acme and linked to the provider, and is not the local account that has her email.
"""

from __future__ import annotations

import re

import pytest
import requests

from accounts.access import Access
from accounts.models import FederatedIdentity, User
from accounts.services import identity_provider_create, organization_bootstrap
from audit.models import AuditAction, AuditEvent
from connected_apps.services import connected_app_create
from tests.e2e.test_consent import callback_params, urlpatterns  # noqa: F401 -- the URLconf
from tests.factories import UserFactory
from tests.oauth.code_flow import authorize_url, pkce_pair, unverified_claims
from tests.sso.dns_server import domains_proved
from tests.sso.upstream import ADA, upstream_oidc_idp, upstream_oidc_idp_factory  # noqa: F401

pytestmark = pytest.mark.browser
UPSTREAM_SECRET = "acme-upstream-secret-5d1e9f"


@pytest.fixture
def callback_url(settings, live_server) -> str:
    settings.ROOT_URLCONF = "tests.e2e.test_consent"
    return f"{live_server.url}/client/callback"


@pytest.fixture
def acme(transactional_db, live_server, upstream_oidc_idp, callback_url):  # noqa: F811
    setup = organization_bootstrap(
        org_name="Acme", username="acme-admin", password="admin-pass-9x!Q", email="a@acme.test"
    )
    provider = identity_provider_create(
        access=Access(user=setup.admin),
        org=setup.organization,
        name="Company IdP",
        kind="oidc",
        settings={
            "issuer": upstream_oidc_idp.issuer,
            "client_id": f"doorman-{setup.organization.id}",
            "client_secret": UPSTREAM_SECRET,
            "domains": ["company.example"],
        },
    )
    domains_proved(provider)  # as POST …/verifyDomains records it (tests/sso/test_sso_domains.py)
    upstream_oidc_idp.add_client(
        client_id=provider.config["client_id"],
        client_secret=UPSTREAM_SECRET,
        redirect_uris=[f"{live_server.url}/auth/oidc/{provider.id}/login/callback/"],
    )
    created = connected_app_create(
        access=Access(user=setup.admin),
        owner=setup.organization,
        client_name="Expense Tracker",
        grant_types=["authorization_code"],
        redirect_uris=[callback_url],
        scopes=["openid", "profile", "email"],
    )
    return setup, provider, created


def sign_in_through_the_company_idp(page, url: str, screenshot) -> None:
    from playwright.sync_api import expect

    page.goto(url)
    page.wait_for_url(re.compile(r"/auth/login/"))
    page.get_by_label("Username", exact=True).fill(ADA.email)
    screenshot(page, "work-email")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", name="Company sign-in")).to_be_visible()
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill(ADA.password)
    screenshot(page, "company-idp")
    page.get_by_role("button", name="Sign in", exact=True).click()


def test_a_member_signs_in_through_the_company_idp_linked_with_amr_fed(
    page, live_server, callback_url, acme, screenshot
):
    from playwright.sync_api import expect

    setup, provider, created = acme
    # A local account with Ada's email and username exists: SSO must never take it over.
    local = UserFactory(organization=setup.organization, username="ada", email=ADA.email)

    verifier, challenge = pkce_pair()
    url = authorize_url(
        created.app, challenge=challenge, redirect_uri=callback_url, scope="openid email"
    )
    sign_in_through_the_company_idp(page, url, screenshot)
    expect(page.get_by_role("heading", name="Authorize App")).to_be_visible()
    screenshot(page, "consent")
    page.get_by_role("button", name="Allow", exact=True).click()
    params = callback_params(page, callback_url)

    link = FederatedIdentity.objects.select_related("user").get(provider=provider)
    ada = link.user
    assert link.subject == ADA.sub
    assert ada.pk != local.pk and ada.username != "ada"  # a new account, never merged
    assert ada.organization_id == setup.organization.id
    assert ada.email == ADA.email and ada.first_name == ADA.given_name
    assert not ada.has_usable_password()
    local.refresh_from_db()
    assert local.email == ADA.email  # untouched

    tokens = requests.post(
        f"{live_server.url}/accounts/api/v2/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": callback_url,
            "code_verifier": verifier,
            "client_id": created.app.client_id,
            "client_secret": created.client_secret,
        },
        timeout=10,
    ).json()
    claims = unverified_claims(tokens["id_token"])
    assert claims["sub"] == str(ada.id)
    assert "fed" in claims["amr"]
    assert claims["acr"] == "1"
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {AuditAction.USER_CREATED, AuditAction.SSO_SIGNED_IN} <= actions


def test_the_second_sign_in_reaches_the_same_account(page, acme, screenshot):
    from playwright.sync_api import expect

    # Ada manages nothing: the portal's home sends her to My apps, signed in as her account.
    sign_in_through_the_company_idp(page, "/", screenshot)
    expect(page.get_by_role("heading", name="My apps")).to_be_visible()
    ada = FederatedIdentity.objects.select_related("user").get().user
    expect(page.locator(".topbar-username-text")).to_have_text(ada.username)
    page.context.clear_cookies()
    sign_in_through_the_company_idp(page, "/", screenshot)
    expect(page.get_by_role("heading", name="My apps")).to_be_visible()
    expect(page.locator(".topbar-username-text")).to_have_text(ada.username)
    assert FederatedIdentity.objects.get().user_id == ada.pk
    assert User.objects.filter(federated_identities__isnull=False).count() == 1
