"""The SSO settings form shows only the chosen type's fields (static/js/sso_form.js); the
mapping fields wait under "Advanced"."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from accounts.services import organization_bootstrap
from tests.e2e.test_portal import sign_in

pytestmark = pytest.mark.browser

PASSWORD = "sso-form-pass-8Qw3zL!"


def test_the_sso_form_shows_the_chosen_types_fields_only(page, live_server, screenshot):
    setup = organization_bootstrap(
        org_name="Acme", username="ada", password=PASSWORD, email="ada@acme.example"
    )
    sign_in(page, "ada", PASSWORD)
    page.goto(live_server.url + reverse("portal:sso_provider_create", args=[setup.organization.id]))
    oidc = page.get_by_role("group", name="OpenID Connect (for the OpenID Connect type)")
    saml = page.locator('fieldset[data-sso-type="saml"]')
    expect(oidc).to_be_visible()
    expect(saml).to_be_hidden()
    expect(page.get_by_label("Username from")).to_be_hidden()
    page.get_by_label("SAML 2.0").check()
    expect(saml).to_be_visible()
    expect(oidc).to_be_hidden()
    expect(
        page.get_by_label("IdP metadata URL (required for SAML: this or the XML)")
    ).to_be_visible()
    page.get_by_text("Advanced: claim or attribute names").click()
    expect(page.get_by_label("Username from")).to_be_visible()
    screenshot(page, "saml-chosen")
