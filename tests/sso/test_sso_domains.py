"""Email domains route sign-ins only once proved by DNS (accounts/sso_domains.py), asked of a
real DNS server on loopback (tests/sso/dns_server.py, dnslib)."""

from __future__ import annotations

import time

import pytest
from django.test import Client

from accounts.models import IdentityProvider
from accounts.sso import home_realm
from audit.models import AuditEvent
from tests.sso.dns_server import dns_server, dns_server_process  # noqa: F401

pytestmark = pytest.mark.django_db


def providers_url(org) -> str:
    return f"/accounts/api/organizations/{org.id}/identityProviders"


def create(client_for, user, org, domains, name="Company IdP") -> dict:
    response = client_for(user).post(
        providers_url(org),
        {
            "name": name,
            "type": "oidc",
            "issuer": "https://idp.example.com",
            "client_id": "doorman",
            "client_secret": "upstream-secret-123",
            "domains": domains,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def verify(client_for, user, org, provider_id) -> dict[str, dict]:
    response = client_for(user).post(f"{providers_url(org)}/{provider_id}/verifyDomains")
    assert response.status_code == 200, response.content
    return {check["domain"]: check for check in response.json()["domains"]}


def publish(dns, provider: dict, domain: str) -> None:
    value = provider["domain_verification"]["record_value"]
    dns.txt[f"_doorman-challenge.{domain}"] = ["v=spf1 -all", value]


def test_a_domain_routes_sign_ins_once_its_txt_record_proves_it(
    client_for,
    admin,
    org,
    dns_server,  # noqa: F811
):
    provider = create(client_for, admin, org, ["acme.example", "corp.example"])
    rows = provider["domain_verification"]["domains"]
    assert [(r["record_name"], r["verified"]) for r in rows] == [
        ("_doorman-challenge.acme.example", False),
        ("_doorman-challenge.corp.example", False),
    ]
    assert provider["domain_verification"]["record_value"].startswith("doorman-verification=")
    assert home_realm("ada@acme.example") is None  # typed, not proved: routes nothing
    page = Client().post("/auth/login/", {"login": "ada@acme.example"})
    assert page.status_code == 200  # asked for a password, not sent anywhere

    publish(dns_server, provider, "acme.example")
    checks = verify(client_for, admin, org, provider["id"])
    assert checks["acme.example"]["verified"] is True
    assert checks["corp.example"]["verified"] is False
    assert "_doorman-challenge.corp.example" in checks["corp.example"]["detail"]
    assert home_realm("ADA@Acme.Example").id == IdentityProvider.objects.get().id
    assert home_realm("ada@corp.example") is None
    event = AuditEvent.objects.filter(action="identity_provider.changed").get()
    assert event.details == {"domains_verified": ["acme.example"]}
    again = client_for(admin).get(f"{providers_url(org)}/{provider['id']}").json()
    assert [r["verified"] for r in again["domain_verification"]["domains"]] == [True, False]


def test_a_wrong_token_proves_nothing(client_for, admin, org, dns_server):  # noqa: F811
    provider = create(client_for, admin, org, ["acme.example"])
    dns_server.txt["_doorman-challenge.acme.example"] = ["doorman-verification=not-yours"]
    assert verify(client_for, admin, org, provider["id"])["acme.example"]["verified"] is False
    assert home_realm("ada@acme.example") is None


def test_another_tenant_cannot_prove_a_domain_someone_proved_first(
    client_for,
    admin,
    org,
    other_admin,
    other_org,
    dns_server,  # noqa: F811
):
    ours = create(client_for, admin, org, ["acme.example"])
    theirs = create(client_for, other_admin, other_org, ["acme.example"], name="Globex IdP")
    publish(dns_server, ours, "acme.example")
    assert verify(client_for, admin, org, ours["id"])["acme.example"]["verified"] is True
    # Even with their own token published too (a shared DNS host), the domain stays ours.
    dns_server.txt["_doorman-challenge.acme.example"].append(
        theirs["domain_verification"]["record_value"]
    )
    check = verify(client_for, other_admin, other_org, theirs["id"])["acme.example"]
    assert check["verified"] is False and "first" in check["detail"]
    assert str(home_realm("ada@acme.example").id) == ours["id"]


def test_dropping_a_domain_drops_its_proof(client_for, admin, org, dns_server):  # noqa: F811
    provider = create(client_for, admin, org, ["acme.example"])
    publish(dns_server, provider, "acme.example")
    verify(client_for, admin, org, provider["id"])
    url = f"{providers_url(org)}/{provider['id']}"
    body = {"issuer": "https://idp.example.com", "client_id": "doorman", "domains": []}
    assert client_for(admin).put(url, body, format="json").status_code == 200
    body["domains"] = ["acme.example"]
    again = client_for(admin).put(url, body, format="json").json()
    assert again["domain_verification"]["domains"][0]["verified"] is False
    assert (
        again["domain_verification"]["record_value"]
        == (
            provider["domain_verification"]["record_value"]  # the token stays the provider's
        )
    )


def test_a_silent_dns_is_a_failed_check_not_an_error(
    client_for,
    admin,
    org,
    dns_server,  # noqa: F811
):
    provider = create(client_for, admin, org, ["acme.example"])
    publish(dns_server, provider, "acme.example")
    dns_server.resolver.silent = True
    started = time.monotonic()
    check = verify(client_for, admin, org, provider["id"])["acme.example"]
    assert time.monotonic() - started < 6
    assert check["verified"] is False and "DNS did not answer" in check["detail"]


def test_only_the_root_admin_verifies(client_for, admin, member, org, dns_server):  # noqa: F811
    from tests.factories import PermissionGrantFactory

    provider = create(client_for, admin, org, ["acme.example"])
    PermissionGrantFactory(user=member, organization=org, permission="edit:organization")
    response = client_for(member).post(f"{providers_url(org)}/{provider['id']}/verifyDomains")
    assert response.status_code == 403


def test_the_portal_shows_the_record_and_verifies(admin, org, dns_server, client_for):  # noqa: F811
    provider = create(client_for, admin, org, ["acme.example"])
    browser = Client()
    browser.force_login(admin)
    page_url = f"/access-management/organizations/{org.id}/identity-providers/{provider['id']}/"
    page = browser.get(page_url).content.decode()
    assert "_doorman-challenge.acme.example" in page
    assert provider["domain_verification"]["record_value"] in page
    assert "Not verified" in page
    publish(dns_server, provider, "acme.example")
    done = browser.post(page_url + "verify-domains").content.decode()
    assert "acme.example: Verified now." in done
