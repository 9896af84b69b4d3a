"""Red-team review of company SSO (issue 15, SPEC §5 "who an assertion may name", §10, §11).

Each test plays an attack over HTTP (live_server + requests, or Django's test client) and
asserts that it fails. The upstream identity provider is the real pysaml2 IdP of
tests/sso/saml_idp.py where a sign-in is needed.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin

import pytest

from accounts.access import Access
from accounts.models import FederatedIdentity, IdentityProvider, User
from accounts.services import identity_provider_create
from audit.models import AuditAction, AuditEvent
from oauth.models import AccessToken
from tests.factories import UserFactory
from tests.oauth.tokenkit import rsa_key
from tests.security.test_jwt_bearer_takeover import admin_jwt_app, assert_as
from tests.sso.dns_server import domains_proved
from tests.sso.saml_idp import SamlIdp, saml_idp, saml_idp_server  # noqa: F401 (fixtures)
from tests.sso.upstream import upstream_oidc_idp, upstream_oidc_idp_factory  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)
IDP_PASSWORD = "correct horse battery"


# -- a SAML sign-in as a browser makes it ------------------------------------------------------
class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attr = dict(attrs)
        if tag == "form":
            self.forms.append({"action": attr.get("action") or "", "fields": {}})
        elif tag == "input" and self.forms and attr.get("name"):
            self.forms[-1]["fields"][attr["name"]] = attr.get("value") or ""


def _form(page) -> dict:
    parser = _Forms()
    parser.feed(page.text)
    assert parser.forms, page.text
    form = parser.forms[-1]
    form["action"] = urljoin(page.url, form["action"])
    return form


def saml_provider(org, admin, idp: SamlIdp, live_url: str, **settings) -> IdentityProvider:
    """Acme's SAML provider at the test IdP, registered there as an SP."""
    provider = identity_provider_create(
        access=Access(user=admin),
        org=org,
        name=settings.pop("name", "Company SAML"),
        kind="saml",
        settings={"metadata_xml": idp.metadata_xml(), **settings},
    )
    metadata = f"{live_url}/auth/saml/{provider.id}/metadata/"
    idp.add_sp(metadata, f"{live_url}/auth/saml/{provider.id}/acs/")
    domains_proved(provider)  # as POST …/verifyDomains records it (tests/sso/test_sso_domains.py)
    return provider


def saml_sign_in(session, live_url: str, login: str, username: str, next_url: str = ""):
    """Type `login` alone on the sign-in page, sign in at the IdP as `username`, come back:
    the final response (redirects followed)."""
    page = session.get(f"{live_url}/auth/login/" + (f"?next={next_url}" if next_url else ""))
    assert page.status_code == 200, page.text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    data = {"csrfmiddlewaretoken": token, "login": login, "password": ""}
    if next_url:
        data["next"] = next_url
    at_idp = session.post(f"{live_url}/auth/login/", data=data, headers={"Referer": page.url})
    assert at_idp.status_code == 200 and "Sign in to the test IdP" in at_idp.text, at_idp.text
    form = _form(at_idp)
    posted = session.post(
        form["action"],
        data={**form["fields"], "username": username, "password": IDP_PASSWORD},
    )
    assert posted.status_code == 200, posted.text
    back = _form(posted)
    return session.post(back["action"], data=back["fields"])


@pytest.fixture
def acme(tenant):
    return tenant


@pytest.fixture
def idp(request) -> SamlIdp:
    """The running test SAML IdP, reset (tests/sso/saml_idp.py's `saml_idp`)."""
    return request.getfixturevalue("saml_idp")


# -- 1. jwt-bearer naming a company SSO provider -----------------------------------------------
def test_a_jwt_bearer_app_cannot_name_a_company_sso_provider(http, urls, acme, idp):
    """SPEC §11: an SSO provider's users are whoever its upstream IdP signs in; `jwt` is the
    type jwt-bearer subjects point at. Before the fix, the key holder of any jwt-bearer app of
    the org named the SAML provider's idp_id (it is in the public sign-in URL) with a user's
    subject and got a token for them, with no upstream sign-in, no factor and no consent; or
    made accounts linked to the SSO provider under subjects of its choosing."""
    live = urls["base"]
    provider = saml_provider(acme["org"], acme["root_admin"], idp, live)
    ada = UserFactory(organization=acme["org"], username="ada")
    ada.set_unusable_password()
    ada.save()
    FederatedIdentity.objects.create(provider=provider, user=ada, subject="ada-upstream-id")
    key = rsa_key()
    app = admin_jwt_app(acme, key, scopes=["profile", "openid"])

    named = assert_as(
        http, urls, key, app.client_id, f"v2|{provider.id}|ada-upstream-id|Ada|L|ada@acme.test|"
    )
    assert named.status_code == 400, named.text
    assert named.json()["error"] == "invalid_grant"
    assert not AccessToken.objects.filter(user=ada).exists()

    created = assert_as(
        http, urls, key, app.client_id, f"v2|{provider.id}|future-ceo|Eve|E|ceo@acme.test|"
    )
    assert created.status_code == 400, created.text
    assert not FederatedIdentity.objects.filter(provider=provider, subject="future-ceo").exists()
    assert not User.objects.filter(username="future-ceo").exists()


def _csrf(session, url: str) -> str:
    page = session.get(url)
    assert page.status_code == 200, page.text
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)


# -- 2. an SSO user giving themself a local password -------------------------------------------
def test_an_sso_user_cannot_give_themself_a_password_that_outlives_the_idp(http, urls, acme, idp):
    """SPEC §11: an SSO user is whoever the org's IdP signs in. Before the fix, allauth's
    "set password" page let the just-in-time account set a local password after one SSO
    sign-in: deprovisioned at the IdP (or its MFA left behind), the person kept signing in
    to the portal and getting platform tokens with that password."""
    live = urls["base"]
    saml_provider(acme["org"], acme["root_admin"], idp, live, domains=["acme.test"])
    idp.add_user("ada", IDP_PASSWORD, {"email": "ada@acme.test", "uid": "ada"})
    browser = http()
    signed_in = saml_sign_in(browser, live, "ada@acme.test", "ada")
    assert signed_in.status_code == 200, signed_in.text
    ada = FederatedIdentity.objects.get().user

    password = "Local-fallback-9x!Q"
    token = _csrf(browser, f"{live}/auth/password/set/")
    browser.post(
        f"{live}/auth/password/set/",
        data={"csrfmiddlewaretoken": token, "password1": password, "password2": password},
        headers={"Referer": f"{live}/auth/password/set/"},
    )
    ada.refresh_from_db()
    assert not ada.has_usable_password()
    login = http().post(urls["login"], json={"username": ada.username, "password": password})
    assert login.status_code != 200, login.text


# -- 3. SSRF through IPv6 addresses that carry an IPv4 one --------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "https://[64:ff9b::a9fe:a9fe]/",  # NAT64 (RFC 6052) of 169.254.169.254
        "https://[64:ff9b::a00:5]/",  # NAT64 of 10.0.0.5
        "https://[64:ff9b:1::a00:5]/",  # local-use NAT64 (RFC 8215)
        "https://[2002:a00:5::1]/",  # 6to4 of 10.0.0.5
        "https://[::7f00:1]/",  # IPv4-compatible 127.0.0.1
    ],
)
def test_sso_urls_cannot_reach_the_private_network_through_ipv6_translation(
    client_for, admin, org, settings, url
):
    """SSRF (accounts.sso_config): Python 3.11 calls these IPv6 addresses global, yet a NAT64
    gateway (an IPv6-only subnet of a cloud VPC) or a 6to4 relay delivers them to the IPv4
    address they embed: the metadata service or the private network. Before the fix an
    administrator's issuer or metadata URL on them was accepted and fetched."""
    settings.DOORMAN_SSO_ALLOW_PRIVATE_NETWORKS = False
    api = client_for(admin)
    providers = f"/accounts/api/organizations/{org.id}/identityProviders"
    body = {"name": "Okta", "type": "oidc", "issuer": url, "client_id": "d", "client_secret": "s"}
    assert api.post(providers, body, format="json").status_code == 400
    saml = {"name": "S", "type": "saml", "metadata_url": url}
    assert api.post(providers, saml, format="json").status_code == 400
    assert not IdentityProvider.objects.exists()


# -- 4. SSRF by DNS rebinding ---------------------------------------------------------------------
@pytest.fixture
def internal_service():
    """A TCP service on loopback (the private network) that records who connected."""
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    accepted: list[tuple] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, peer = listener.accept()
            except OSError:
                continue
            accepted.append(peer)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], accepted
    stop.set()
    thread.join(2)
    listener.close()


def test_sso_urls_cannot_reach_the_private_network_by_dns_rebinding(
    client_for, admin, org, settings, monkeypatch, internal_service
):
    """SSRF: the attacker's name resolves to a public address when Doorman checks it and to
    an internal one a moment later, when Doorman connects (a rebinding DNS server with TTL 0).
    Before the fix the check resolved the name, then requests resolved it again and connected
    to the internal service."""
    import socket

    settings.DOORMAN_SSO_ALLOW_PRIVATE_NETWORKS = False
    port, accepted = internal_service
    real = socket.getaddrinfo
    answers = {"count": 0}

    def rebinding(host, *args, **kwargs):
        if host != "rebind.attacker.example":
            return real(host, *args, **kwargs)
        answers["count"] += 1
        # Public for the checks (the URL's, then the fetch's), internal afterwards.
        address = "93.184.215.14" if answers["count"] <= 2 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    response = client_for(admin).post(
        f"/accounts/api/organizations/{org.id}/identityProviders",
        {"name": "S", "type": "saml", "metadata_url": f"https://rebind.attacker.example:{port}/"},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert accepted == [], "Doorman connected to the internal service"


# -- 5. home-realm discovery: another tenant claims your email domain ---------------------------
def test_another_tenant_cannot_claim_our_email_domain(client_for, org, other_admin, other_org):
    """Globex's administrator registers an SSO provider (its own SAML IdP) routing
    acme.example, Acme's email domain, before Acme sets up SSO. Acme's people who type their
    work email on Doorman's own sign-in page are sent to Globex's IdP (a perfect phishing
    page: the redirect comes from Doorman), and Acme can no longer route its own domain."""
    from django.test import Client

    from tests.accounts.test_sso_providers import idp_metadata

    evil = "https://login.globex-idp.example/metadata"
    squat = client_for(other_admin).post(
        f"/accounts/api/organizations/{other_org.id}/identityProviders",
        {
            "name": "Globex SSO",
            "type": "saml",
            "metadata_xml": idp_metadata(entity_id=evil),
            "domains": ["acme.example"],
        },
        format="json",
    )
    assert squat.status_code == 201, squat.content
    UserFactory(organization=org, username="ada", email="ada@acme.example")

    page = Client(HTTP_HOST="testserver").post("/auth/login/", {"login": "ada@acme.example"})
    assert not page.get("Location", "").startswith("https://saml.example.com/"), page["Location"]


# -- 6. OpenID Connect subjects differing only in case ------------------------------------------
def oidc_sign_in(session, live_url: str, email: str, username: str, password: str):
    """Type `email` alone on the sign-in page, sign in at the upstream OIDC IdP, come back."""
    from tests.sso.upstream import login_form

    token = _csrf(session, f"{live_url}/auth/login/")
    at_idp = session.post(
        f"{live_url}/auth/login/",
        data={"csrfmiddlewaretoken": token, "login": email, "password": ""},
        headers={"Referer": f"{live_url}/auth/login/"},
    )
    assert "/interaction/" in at_idp.url, at_idp.text
    form = login_form(at_idp.text)
    return session.post(
        urljoin(at_idp.url, form.action),
        data={form.labels["Username"]: username, form.labels["Password"]: password},
    )


def test_an_oidc_subject_in_another_case_is_another_person(http, urls, acme, request):
    """OpenID Connect Core §2: `sub` is a case-sensitive string, the one stable identifier of
    a person at the issuer. Before the fix, the link was found case-insensitively: whoever the
    upstream IdP names `00u-ada` signed in to the account of `00u-ADA`."""
    from tests.sso.upstream import UpstreamAccount

    upstream = request.getfixturevalue("upstream_oidc_idp")
    live = urls["base"]
    provider = identity_provider_create(
        access=Access(user=acme["root_admin"]),
        org=acme["org"],
        name="Company OIDC",
        kind="oidc",
        settings={
            "issuer": upstream.issuer,
            "client_id": f"doorman-review-{acme['org'].id}",
            "client_secret": "review-upstream-secret",
            "domains": ["case.example"],
        },
    )
    domains_proved(provider)
    upstream.add_client(
        client_id=provider.config["client_id"],
        client_secret="review-upstream-secret",
        redirect_uris=[f"{live}/auth/oidc/{provider.id}/login/callback/"],
    )
    victim = upstream.add_account(
        UpstreamAccount(sub="00u-ADA", password="victim-pass-1", email="ada@case.example")
    )
    other = upstream.add_account(
        UpstreamAccount(sub="00u-ada", password="other-pass-2", email="mal@case.example")
    )
    first = oidc_sign_in(http(), live, victim.email, victim.email, victim.password)
    assert first.status_code == 200, first.text
    ada = FederatedIdentity.objects.get(provider=provider).user

    oidc_sign_in(http(), live, other.email, other.email, other.password)
    reached = AuditEvent.objects.filter(action=AuditAction.SSO_SIGNED_IN).values_list(
        "actor_user_id", flat=True
    )
    assert list(reached).count(ada.id) == 1, "the other person signed in as Ada"
