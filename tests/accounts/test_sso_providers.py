"""Company SSO providers over the API (SPEC §11): types, settings, who may set them up, the
sealed secret, SSRF refusals, audit."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from accounts.models import IdentityProvider
from audit.models import AuditAction, AuditEvent
from core.sealing import unseal
from tests.factories import OrganizationFactory, PermissionGrantFactory

pytestmark = pytest.mark.django_db
SECRET = "upstream-client-secret-0123456789"


def providers_url(org) -> str:
    return f"/accounts/api/organizations/{org.id}/identityProviders"


def oidc_body(**overrides) -> dict:
    body = {
        "name": "Okta",
        "type": "oidc",
        "issuer": "https://idp.example.com",
        "client_id": "doorman",
        "client_secret": SECRET,
        "domains": ["Acme.example"],
    }
    body.update(overrides)
    return body


def idp_metadata(entity_id: str = "https://saml.example.com/metadata") -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "idp")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    body = "".join(pem.strip().splitlines()[1:-1])
    return f"""<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"
    xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{entity_id}">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data>
      <ds:X509Certificate>{body}</ds:X509Certificate>
    </ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
        Location="https://saml.example.com/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"""


def test_a_root_admin_sets_up_oidc_and_the_secret_is_sealed_never_returned(client_for, admin, org):
    created = client_for(admin).post(providers_url(org), oidc_body(), format="json")
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["type"] == "oidc"
    assert data["issuer"] == "https://idp.example.com"
    assert data["client_secret_set"] is True
    assert data["domains"] == ["acme.example"]
    assert data["sp"]["redirect_uri"].endswith(f"/auth/oidc/{data['id']}/login/callback/")
    assert SECRET not in created.content.decode()
    row = IdentityProvider.objects.get(id=data["id"])
    assert SECRET not in row.client_secret_sealed
    assert unseal(row.client_secret_sealed) == SECRET
    event = AuditEvent.objects.get(action=AuditAction.IDENTITY_PROVIDER_CREATED)
    assert SECRET not in str(event.details)
    listed = client_for(admin).get(providers_url(org)).json()["data"][0]
    assert listed["type"] == "oidc" and "client_secret" not in listed


def test_settings_change_keeps_the_secret_and_is_audited(client_for, admin, org):
    api = client_for(admin)
    created = api.post(providers_url(org), oidc_body(), format="json").json()
    body = oidc_body(issuer="https://other.example.com/.well-known/openid-configuration")
    for key in ("name", "type", "client_secret"):
        body.pop(key)
    changed = api.put(f"{providers_url(org)}/{created['id']}", body, format="json")
    assert changed.status_code == 200, changed.content
    row = IdentityProvider.objects.get(id=created["id"])
    assert row.config["issuer"].startswith("https://other.example.com")
    assert unseal(row.client_secret_sealed) == SECRET
    event = AuditEvent.objects.get(action=AuditAction.IDENTITY_PROVIDER_CHANGED)
    assert event.details["before"]["issuer"] == "https://idp.example.com"
    assert SECRET not in str(event.details)


def test_a_saml_provider_from_pasted_metadata(client_for, admin, org):
    body = {"name": "ADFS", "type": "saml", "metadata_xml": idp_metadata()}
    created = client_for(admin).post(providers_url(org), body, format="json")
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["entity_id"] == "https://saml.example.com/metadata"
    assert data["sso_url"] == "https://saml.example.com/sso"
    assert data["sp"]["acs_url"].endswith(f"/auth/saml/{data['id']}/acs/")
    assert data["sp"]["metadata_url"].endswith(f"/auth/saml/{data['id']}/metadata/")


@pytest.mark.parametrize(
    "body",
    [
        {"name": "X", "type": "ldap"},
        oidc_body(issuer="not a url"),
        oidc_body(client_id=""),
        oidc_body(client_secret=""),
        oidc_body(scopes=["email"]),
        oidc_body(claim_mapping={"is_staff": "admin"}),
        oidc_body(domains=["not a domain"]),
        {"name": "X", "type": "saml", "metadata_xml": "<html/>"},
        {"name": "X", "type": "saml"},
        oidc_body(surprise=True),
    ],
)
def test_bad_settings_are_a_400_and_write_nothing(client_for, admin, org, body):
    response = client_for(admin).post(providers_url(org), body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]
    assert not IdentityProvider.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://idp.example.com",  # not https
        "https://127.0.0.1/",
        "https://169.254.169.254/latest/meta-data",
        "https://10.0.0.5/",
        "https://[::1]/",
        "https://localhost/",
        "https://user:pw@idp.example.com/",
    ],
)
def test_outside_development_no_url_reaches_the_private_network(
    client_for, admin, org, settings, url
):
    """SSRF: an org administrator's URL is fetched by Doorman."""
    settings.DOORMAN_SSO_ALLOW_PRIVATE_NETWORKS = False
    response = client_for(admin).post(providers_url(org), oidc_body(issuer=url), format="json")
    assert response.status_code == 400, response.content
    saml = client_for(admin).post(
        providers_url(org), {"name": "S", "type": "saml", "metadata_url": url}, format="json"
    )
    assert saml.status_code == 400, saml.content
    assert not IdentityProvider.objects.exists()


def test_only_a_root_admin_sets_up_sso_a_jwt_provider_needs_edit_organization(
    client_for, member, org
):
    PermissionGrantFactory(user=member, organization=org, permission="edit:organization")
    api = client_for(member)
    assert api.post(providers_url(org), oidc_body(), format="json").status_code == 403
    assert api.post(providers_url(org), {"name": "Partner"}, format="json").status_code == 201
    assert list(IdentityProvider.objects.values_list("type", flat=True)) == ["jwt"]


def test_a_bg_admin_cannot_set_up_sso_for_their_bg(client_for, member, org):
    from tests.factories import AdminRoleFactory

    team = OrganizationFactory(name="Team", parent=org)
    AdminRoleFactory(user=member, organization=team)
    response = client_for(member).post(providers_url(team), oidc_body(), format="json")
    assert response.status_code == 403
    assert not IdentityProvider.objects.exists()


def test_a_domain_one_provider_proved_cannot_be_claimed_by_another(
    client_for, admin, org, other_admin, other_org
):
    """An unproved claim blocks nobody (tests/sso/test_sso_domains.py proves by DNS); a proved
    domain is its provider's own."""
    from tests.sso.dns_server import domains_proved

    first = client_for(admin).post(providers_url(org), oidc_body(), format="json")
    unproved = client_for(other_admin).post(
        providers_url(other_org), oidc_body(domains=["acme.example"]), format="json"
    )
    assert unproved.status_code == 201
    domains_proved(IdentityProvider.objects.get(id=first.json()["id"]))
    squat = client_for(other_admin).post(
        providers_url(other_org),
        oidc_body(name="Second", domains=["acme.example"]),
        format="json",
    )
    assert squat.status_code == 400
    assert IdentityProvider.objects.count() == 2


def test_another_tenant_cannot_read_or_change_it(client_for, admin, org, other_admin):
    created = client_for(admin).post(providers_url(org), oidc_body(), format="json").json()
    url = f"{providers_url(org)}/{created['id']}"
    assert client_for(other_admin).get(url).status_code in (403, 404)
    changed = client_for(other_admin).put(url, {"issuer": "https://evil.example"}, format="json")
    assert changed.status_code in (403, 404)
    row = IdentityProvider.objects.get(id=created["id"])
    assert row.config["issuer"] == "https://idp.example.com"
