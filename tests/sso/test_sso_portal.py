"""Setting up company SSO in the portal and testing the connection against a live upstream
OpenID Connect provider (node oidc-provider on loopback), through the API too."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import IdentityProvider
from accounts.sso_config import METADATA_REQUIRED
from core.sealing import unseal

pytestmark = pytest.mark.django_db
SECRET = "portal-upstream-secret-77ab"


def portal(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def oidc_form(issuer: str, **overrides) -> dict:
    form = {
        "name": "Company IdP",
        "type": "oidc",
        "domains": "company.example, corp.example",
        "issuer": issuer,
        "client_id": "doorman-portal",
        "client_secret": SECRET,
        "scopes": "openid email profile",
    }
    form.update(overrides)
    return form


def test_an_admin_sets_up_oidc_sso_sees_what_to_register_and_tests_the_connection(
    admin, org, upstream_oidc_idp
):
    client = portal(admin)
    org_page = client.get(reverse("portal:organization_detail", args=[org.id])).content.decode()
    assert "Set up single sign-on" in org_page
    new = reverse("portal:sso_provider_create", args=[org.id])
    assert client.get(new).status_code == 200
    response = client.post(new, oidc_form(upstream_oidc_idp.issuer))
    assert response.status_code == 302, response.content.decode()[:2000]
    provider = IdentityProvider.objects.get()
    assert provider.type == "oidc" and provider.domains == ["company.example", "corp.example"]
    assert unseal(provider.client_secret_sealed) == SECRET

    detail = client.get(response["Location"]).content.decode()
    assert f"/auth/oidc/{provider.id}/login/callback/" in detail
    assert "Set (never shown)" in detail and SECRET not in detail

    tested = client.post(reverse("portal:sso_connection_test", args=[org.id, provider.id]))
    page = tested.content.decode()
    assert tested.status_code == 200
    assert "Connection works." in page, page

    api = client.post(
        f"/accounts/api/organizations/{org.id}/identityProviders/{provider.id}/test",
        content_type="application/json",
    )
    assert api.status_code == 200
    assert api.json()["ok"] is True
    assert {check["name"] for check in api.json()["checks"]} >= {"Discovery document", "Issuer"}


def test_an_unreachable_provider_fails_its_test_without_an_error(admin, org, upstream_oidc_idp):
    client = portal(admin)
    client.post(
        reverse("portal:sso_provider_create", args=[org.id]),
        oidc_form("http://127.0.0.1:9/nothing-here"),
    )
    provider = IdentityProvider.objects.get()
    api = client.post(
        f"/accounts/api/organizations/{org.id}/identityProviders/{provider.id}/test",
        content_type="application/json",
    )
    assert api.status_code == 200
    assert api.json()["ok"] is False
    assert api.json()["checks"][0]["name"] == "Discovery document"
    page = client.post(reverse("portal:sso_connection_test", args=[org.id, provider.id]))
    assert "Connection has problems." in page.content.decode()


def test_editing_settings_keeps_the_secret_when_left_empty(admin, org, upstream_oidc_idp):
    client = portal(admin)
    client.post(
        reverse("portal:sso_provider_create", args=[org.id]), oidc_form(upstream_oidc_idp.issuer)
    )
    provider = IdentityProvider.objects.get()
    url = reverse("portal:sso_provider_settings", args=[org.id, provider.id])
    form = client.get(url).content.decode()
    assert "doorman-portal" in form and SECRET not in form
    response = client.post(url, oidc_form(upstream_oidc_idp.issuer, client_secret="", domains=""))
    assert response.status_code == 302
    provider.refresh_from_db()
    assert provider.domains == []
    assert unseal(provider.client_secret_sealed) == SECRET


def test_bad_settings_re_render_the_form_with_errors_and_write_nothing(admin, org):
    response = portal(admin).post(
        reverse("portal:sso_provider_create", args=[org.id]), oidc_form("not a url")
    )
    assert response.status_code == 400
    assert "Required: an https URL." in response.content.decode() or (
        "Must be an https URL." in response.content.decode()
    )
    assert not IdentityProvider.objects.exists()


def test_nobody_but_a_root_admin_reaches_the_sso_pages(member, org):
    client = portal(member)
    assert client.get(reverse("portal:sso_provider_create", args=[org.id])).status_code == 403
    org_page = client.get(reverse("portal:organization_detail", args=[org.id]))
    assert "Set up single sign-on" not in org_page.content.decode()


def test_the_sso_form_groups_fields_by_type_and_says_what_each_type_needs(admin, org):
    """Both groups are in the page (sso_form.js shows the chosen one only); a field the chosen
    type needs says so instead of "(optional)"; the mappings wait under "Advanced"."""
    html = portal(admin).get(reverse("portal:sso_provider_create", args=[org.id])).content.decode()
    assert 'data-sso-type="oidc"' in html and 'data-sso-type="saml"' in html
    assert "js/sso_form.js" in html
    for label in ("Issuer or discovery URL", "Client ID", "Client secret"):
        assert f'{label} <span class="optional">(required for OpenID Connect)</span>' in html
    for label in ("IdP metadata URL", "IdP metadata XML"):
        assert f'{label} <span class="optional">(required for SAML: this or the ' in html
    assert 'IdP entity ID <span class="optional">(optional)</span>' in html
    assert '<details class="sso-advanced">' in html
    assert "<summary>Advanced: claim or attribute names</summary>" in html


def test_the_sso_settings_form_keeps_the_secret_optional_and_opens_set_mappings(admin, org):
    provider = IdentityProvider.objects.create(
        organization=org,
        name="Company IdP",
        type="oidc",
        config={
            "issuer": "https://idp.example.com",
            "client_id": "doorman",
            "claim_mapping": {"email": "mail"},
        },
    )
    url = reverse("portal:sso_provider_settings", args=[org.id, provider.id])
    html = portal(admin).get(url).content.decode()
    assert 'Client secret <span class="optional">(optional)</span>' in html
    assert '<details class="sso-advanced" open>' in html


def test_a_saml_form_without_metadata_is_still_refused_by_the_server_rule(admin, org):
    response = portal(admin).post(
        reverse("portal:sso_provider_create", args=[org.id]),
        {"name": "Company SAML", "type": "saml", "domains": ""},
    )
    assert response.status_code == 400
    assert METADATA_REQUIRED in response.content.decode().replace("&#x27;", "'")
    assert not IdentityProvider.objects.exists()
