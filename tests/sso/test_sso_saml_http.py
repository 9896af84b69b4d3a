"""Company SSO through a SAML identity provider, at the HTTP level (SPEC §11).

Doorman is the SP of the real test IdP (tests/sso/saml_idp.py: pysaml2 over HTTP on
127.0.0.1), set up as an administrator does it: the IdP registered over the API from its
metadata URL, Doorman registered at the IdP from Doorman's SP metadata. A person's browser is
Django's test client (with CSRF checks, as a browser gets them) on Doorman's side and a
`requests` session on the IdP's. What is proved: a work email without a password signs in
through the IdP to a just-in-time account in the provider's org, linked and never merged with
a local account; the IdP's signature, audience, InResponseTo and the sign-in Doorman started
are all required; a deactivated user is refused; no response, however broken, is an error 500.
"""

from __future__ import annotations

import base64
import re
import zlib
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.access import Access
from accounts.models import (
    FederatedIdentity,
    IdentityProvider,
    MfaRequirement,
    OrgSecurityPolicy,
    User,
)
from accounts.services import organization_bootstrap, user_create
from accounts.sso import REFUSED_INACTIVE, REFUSED_NO_SUBJECT
from audit.models import AuditAction, AuditEvent
from connected_apps.services import connected_app_create
from tests.oauth.code_flow import REDIRECT_URI, tokens_for, unverified_claims
from tests.sso.dns_server import domains_proved
from tests.sso.saml_idp import ATTRIBUTE_NAMES, SamlIdp

pytestmark = pytest.mark.django_db

HOST = "testserver"
IDP_PASSWORD = "correct horse battery staple"
ADA = {"uid": "ada", "email": "ada@acme.example", "givenName": "Ada", "sn": "Lovelace"}
MAPPING = {
    "username": ATTRIBUTE_NAMES["uid"],
    "email": ATTRIBUTE_NAMES["email"],
    "first_name": ATTRIBUTE_NAMES["givenName"],
    "last_name": ATTRIBUTE_NAMES["sn"],
}
LOGIN_FAILED = "Third-Party Login Failure"


# -- a browser --------------------------------------------------------------------------------
class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attr = dict(attrs)
        if tag == "form":
            self.forms.append({"action": attr.get("action"), "fields": {}})
        elif tag == "input" and self.forms and attr.get("name"):
            self.forms[-1]["fields"][attr["name"]] = attr.get("value") or ""


def the_form(page: requests.Response) -> dict:
    parser = _Forms()
    parser.feed(page.text)
    assert len(parser.forms) == 1, page.text
    form = parser.forms[0]
    form["action"] = urljoin(page.url, form["action"])
    return form


@dataclass
class AutoPost:
    """What the IdP's auto-submitting page posts to an ACS."""

    acs_path: str
    fields: dict[str, str]

    @property
    def xml(self) -> str:
        return base64.b64decode(self.fields["SAMLResponse"]).decode()

    def with_xml(self, xml: str) -> dict[str, str]:
        return {**self.fields, "SAMLResponse": base64.b64encode(xml.encode()).decode()}


def new_browser() -> Client:
    """Doorman's side of a fresh browser: sends a Host header and is held to CSRF checks;
    a response is what a browser would show (a 500 is a status, not an exception)."""
    return Client(HTTP_HOST=HOST, enforce_csrf_checks=True, raise_request_exception=False)


def start_at_sign_in_page(browser: Client, login: str = "ada@acme.example") -> str:
    """Type `login` and no password on the sign-in page: the IdP URL it redirects to."""
    page = browser.get(reverse("account_login"))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert token is not None
    response = browser.post(
        reverse("account_login"),
        {"csrfmiddlewaretoken": token.group(1), "login": login, "password": ""},
    )
    assert response.status_code == 302, response.content
    return response["Location"]


def sign_in_at_idp(url: str, username: str = "ada", password: str = IDP_PASSWORD) -> AutoPost:
    idp = requests.Session()
    login_page = idp.get(url, timeout=10)
    assert login_page.status_code == 200, login_page.text
    form = the_form(login_page)
    fields = {**form["fields"], "username": username, "password": password, "action": "sign-in"}
    post_page = idp.post(form["action"], data=fields, timeout=10)
    assert post_page.status_code == 200, post_page.text
    form = the_form(post_page)
    return AutoPost(acs_path=urlsplit(form["action"]).path, fields=form["fields"])


def post_to_acs(browser: Client, acs_path: str, fields: dict[str, str]):
    """The IdP's page posts to the ACS (no CSRF token: allauth exempts it), which stores the
    post and sends the browser on to finish the sign-in with its session cookie."""
    acs = browser.post(acs_path, fields)
    assert acs.status_code == 302, acs.content
    assert acs["Location"] == f"{acs_path}finish/"
    return browser.get(acs["Location"])


def sign_in(browser: Client, login: str = "ada@acme.example"):
    posted = sign_in_at_idp(start_at_sign_in_page(browser, login))
    return post_to_acs(browser, posted.acs_path, posted.fields)


# -- an org with a SAML provider ----------------------------------------------------------------
def register_saml_provider(setup, idp: SamlIdp, *, domain: str, **settings) -> IdentityProvider:
    """The root org's administrator registers `idp` over the API; the IdP trusts Doorman's
    SP metadata, as the IdP's administrator would register it."""
    api = APIClient()
    api.force_authenticate(user=setup.admin)
    body = {
        "name": f"{setup.organization.name} IdP",
        "type": "saml",
        "metadata_url": idp.metadata_url,
        "attribute_mapping": MAPPING,
        "domains": [domain],
        **settings,
    }
    response = api.post(
        f"/accounts/api/organizations/{setup.organization.id}/identityProviders",
        body,
        format="json",
        HTTP_HOST=HOST,
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["entity_id"] == idp.entity_id
    assert data["sso_url"] == idp.sso_redirect_url
    metadata = new_browser().get(urlsplit(data["sp"]["metadata_url"]).path)
    assert metadata.status_code == 200, metadata.content
    assert metadata["Content-Type"].startswith("text/xml")
    assert idp.add_sp_metadata(metadata.content) == data["sp"]["sp_entity_id"]
    provider = IdentityProvider.objects.get(id=data["id"])
    domains_proved(provider)  # as POST …/verifyDomains records it (test_sso_domains.py)
    return provider


@pytest.fixture
def acme(db):
    return organization_bootstrap(
        org_name="Acme", username="alice", password="admin-pass-8f3K2x!", email="alice@acme.example"
    )


@pytest.fixture
def idp(saml_idp: SamlIdp) -> SamlIdp:
    saml_idp.add_user("ada", IDP_PASSWORD, ADA)
    return saml_idp


@pytest.fixture
def provider(acme, idp) -> IdentityProvider:
    return register_saml_provider(acme, idp, domain="acme.example")


def sso_users(provider: IdentityProvider) -> list[User]:
    return [link.user for link in FederatedIdentity.objects.filter(provider=provider)]


def assert_refused_without_a_user(response, provider, status: int = 401) -> None:
    assert response.status_code == status, response.content
    assert not FederatedIdentity.objects.filter(provider=provider).exists()
    assert not User.objects.filter(organization=provider.organization, username__startswith="ada")
    assert "_auth_user_id" not in response.wsgi_request.session


# -- signing in ---------------------------------------------------------------------------------
def test_a_work_email_signs_in_to_a_new_linked_account_then_to_the_same_one(acme, provider, idp):
    local_ada = user_create(
        access=Access(user=acme.admin),
        org=acme.organization,
        username="ada",
        email="ada@acme.example",
        password="local-ada-pass-5tG7!",
    )
    browser = new_browser()

    response = sign_in(browser)

    assert response.status_code == 302, response.content
    assert response["Location"] == reverse("portal:home")
    [ada] = sso_users(provider)
    assert ada.pk != local_ada.pk
    assert browser.session["_auth_user_id"] == str(ada.pk)
    assert ada.organization_id == acme.organization.id
    assert not ada.has_usable_password()
    assert (ada.email, ada.first_name, ada.last_name) == ("ada@acme.example", "Ada", "Lovelace")
    assert ada.username.startswith("ada-")  # "ada" is the local account's
    link = FederatedIdentity.objects.get(provider=provider)
    assert link.subject == idp.persistent_id("ada", idp.authn_requests[-1].sp_entity_id)
    local_ada.refresh_from_db()
    assert local_ada.has_usable_password()
    events = AuditEvent.objects.filter(target_id=str(ada.id)).order_by("created_at")
    assert [(e.action, e.organization_id) for e in events] == [
        (AuditAction.USER_CREATED, acme.organization.id),
        (AuditAction.SSO_SIGNED_IN, acme.organization.id),
    ]
    assert events[0].details["just_in_time"] is True
    home = browser.get(reverse("portal:home"))  # a new member manages nothing: My apps
    assert home.status_code == 302 and home["Location"] == reverse("connected_apps:my_apps")
    page = browser.get(home["Location"])
    assert page.status_code == 200
    assert ada.username in page.content.decode()

    # An app's ID token says how the session signed in (RFC 8176: fed).
    app = connected_app_create(
        access=Access(user=acme.admin),
        owner=acme.organization,
        client_name="Expense Tracker",
        grant_types=["authorization_code"],
        redirect_uris=[REDIRECT_URI],
        scopes=["openid", "profile"],
    )
    browser.handler.enforce_csrf_checks = False  # tokens_for posts the consent form bare
    claims = unverified_claims(tokens_for(browser, app, scope="openid")["id_token"])
    assert claims["sub"] == str(ada.id)
    assert "fed" in claims["amr"] and "pwd" not in claims["amr"]

    # Another sign-in, in another browser: the same account.
    again = new_browser()
    assert sign_in(again)["Location"] == reverse("portal:home")
    assert again.session["_auth_user_id"] == str(ada.pk)
    assert sso_users(provider) == [ada]
    assert User.objects.filter(organization=acme.organization).count() == 3


def test_a_mapped_uid_attribute_is_the_subject_whatever_the_name_id(acme, idp):
    """An IdP that sends one-time (transient) NameIDs still reaches the same account each
    time when the org maps a `uid` attribute (accounts.sso_config)."""
    provider = register_saml_provider(
        acme,
        idp,
        domain="acme.example",
        attribute_mapping={**MAPPING, "uid": ATTRIBUTE_NAMES["uid"]},
    )
    assert provider.config["attribute_mapping"]["uid"] == ATTRIBUTE_NAMES["uid"]
    idp.name_id_format = "transient"

    assert sign_in(new_browser())["Location"] == reverse("portal:home")
    assert sign_in(new_browser())["Location"] == reverse("portal:home")

    [ada] = sso_users(provider)
    assert FederatedIdentity.objects.get(provider=provider).subject == "ada"
    assert ada.username == "ada"
    assert AuditEvent.objects.filter(action=AuditAction.SSO_SIGNED_IN).count() == 2


def test_a_mapped_uid_the_idp_does_not_send_is_refused(acme, idp):
    """Not the NameID instead: that would be another account for the same person."""
    provider = register_saml_provider(
        acme, idp, domain="acme.example", attribute_mapping={**MAPPING, "uid": "urn:oid:0.0"}
    )
    browser = new_browser()

    response = sign_in(browser)

    assert_refused_without_a_user(response, provider, status=403)
    assert REFUSED_NO_SUBJECT in response.content.decode()
    assert AuditEvent.objects.filter(action=AuditAction.SSO_SIGN_IN_REFUSED).count() == 1


def test_the_sign_in_returns_to_the_page_asked_for(provider, idp):
    browser = new_browser()
    page = browser.get(reverse("account_login"), {"next": "/access-management/environments/"})
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert token is not None
    response = browser.post(
        f"{reverse('account_login')}?next=/access-management/environments/",
        {"csrfmiddlewaretoken": token.group(1), "login": "ADA@Acme.Example", "password": ""},
    )
    assert response.status_code == 302
    posted = sign_in_at_idp(response["Location"])
    finished = post_to_acs(browser, posted.acs_path, posted.fields)
    assert finished["Location"] == "/access-management/environments/"


def test_an_org_requiring_a_second_factor_still_lets_the_idp_sign_in_finish(acme, provider, idp):
    """The second-factor middleware leaves allauth's SAML URLs alone; the portal then asks
    the new user to set up a factor, as it asks anyone the policy covers."""
    OrgSecurityPolicy.objects.create(
        organization=acme.organization, mfa_required=MfaRequirement.EVERYONE
    )
    browser = new_browser()
    response = sign_in(browser)
    assert response.status_code == 302, response.content
    assert response["Location"] == reverse("portal:home")
    home = browser.get(reverse("portal:home"))
    assert home.status_code == 302
    assert home["Location"] == reverse("mfa_index")


# -- refusals -----------------------------------------------------------------------------------
def test_a_tampered_attribute_is_refused(provider, idp, caplog):
    browser = new_browser()
    posted = sign_in_at_idp(start_at_sign_in_page(browser))
    assert posted.xml.count("ada@acme.example") == 1

    forged = posted.with_xml(posted.xml.replace("ada@acme.example", "eve@acme.example"))
    response = post_to_acs(browser, posted.acs_path, forged)

    assert_refused_without_a_user(response, provider)
    assert LOGIN_FAILED in response.content.decode()
    assert "Signature validation failed" in caplog.text


@pytest.mark.parametrize(
    "rewritten_to_acme", [False, True], ids=["as-sent", "destination-rewritten"]
)
def test_a_response_for_another_sp_is_refused(acme, provider, idp, caplog, rewritten_to_acme):
    """Globex's provider is the same IdP: its assertion for Globex's SP must not sign anyone
    in at Acme's, even in a browser that started a sign-in at both. As sent, its Destination
    is Globex's ACS; with the (unsigned) response's Destination rewritten, the signed
    assertion's audience is still Globex's SP."""
    globex = organization_bootstrap(
        org_name="Globex", username="gina", password="admin-pass-8f3K2x!", email="g@globex.example"
    )
    globex_provider = register_saml_provider(globex, idp, domain="globex.example")
    idp.sign_response = not rewritten_to_acme  # the assertion stays signed
    browser = new_browser()
    sign_in_at_idp(start_at_sign_in_page(browser, "ada@acme.example"))
    for_globex = sign_in_at_idp(start_at_sign_in_page(browser, "ada@globex.example"))
    assert for_globex.acs_path == f"/auth/saml/{globex_provider.id}/acs/"
    acme_acs = f"/auth/saml/{provider.id}/acs/"
    fields = for_globex.fields
    if rewritten_to_acme:
        fields = for_globex.with_xml(for_globex.xml.replace(for_globex.acs_path, acme_acs, 1))

    response = post_to_acs(browser, acme_acs, fields)

    assert_refused_without_a_user(response, provider)
    assert not FederatedIdentity.objects.exists()
    received_at = f"received at http://{HOST}{acme_acs} instead of"
    reason = "is not a valid audience" if rewritten_to_acme else received_at
    assert reason in caplog.text


def test_an_idp_initiated_response_is_refused(provider, idp, caplog):
    sp_entity_id = f"http://{HOST}/auth/saml/{provider.id}/metadata/"
    unsolicited = idp.unsolicited_response("ada", sp_entity_id)
    assert "InResponseTo" not in unsolicited.xml.split(">", 2)[1]  # the Response element's
    browser = new_browser()

    response = post_to_acs(
        browser,
        urlsplit(unsolicited.acs_url).path,
        {"SAMLResponse": unsolicited.saml_response, "RelayState": "/"},
    )

    assert_refused_without_a_user(response, provider)
    assert "IdP initiated SSO rejected" in caplog.text


def test_a_response_is_good_for_the_browser_that_asked_once(provider, idp):
    browser = new_browser()
    posted = sign_in_at_idp(start_at_sign_in_page(browser))

    elsewhere = post_to_acs(new_browser(), posted.acs_path, posted.fields)
    assert_refused_without_a_user(elsewhere, provider, status=403)

    assert post_to_acs(browser, posted.acs_path, posted.fields).status_code == 302
    replayed = post_to_acs(new_browser(), posted.acs_path, posted.fields)
    assert replayed.status_code == 403
    assert len(sso_users(provider)) == 1


def test_a_deactivated_linked_user_is_refused(provider, idp):
    assert sign_in(new_browser()).status_code == 302
    [ada] = sso_users(provider)
    User.objects.filter(pk=ada.pk).update(is_active=False)
    browser = new_browser()

    response = sign_in(browser)

    assert response.status_code == 403
    assert REFUSED_INACTIVE in response.content.decode()
    assert "_auth_user_id" not in browser.session
    assert browser.get(reverse("portal:home"))["Location"].startswith(reverse("account_login"))
    refused = AuditEvent.objects.get(action=AuditAction.SSO_SIGN_IN_REFUSED)
    assert refused.organization_id == provider.organization_id
    assert refused.details["user"] == str(ada.id)
    assert refused.target_id == str(provider.id)
    assert sso_users(provider) == [ada]


# -- never an error 500 -------------------------------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.mark.parametrize(
    "saml_response",
    [
        pytest.param("", id="empty"),
        pytest.param("%%% not base64 %%%", id="not-base64"),
        pytest.param(_b64(b"hello"), id="not-xml"),
        pytest.param(_b64(b"\xff\xfe<x/>"), id="not-utf8"),
        pytest.param(_b64(b"<samlp:Response xmlns:samlp="), id="truncated"),
        pytest.param(_b64(b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>'), id="dtd"),
        pytest.param(_b64(b"<x/>"), id="not-a-response"),
    ],
)
def test_a_response_that_is_not_a_saml_response_is_refused_not_an_error(
    provider, idp, saml_response
):
    browser = new_browser()
    start_at_sign_in_page(browser)
    acs = f"/auth/saml/{provider.id}/acs/"

    response = post_to_acs(browser, acs, {"SAMLResponse": saml_response, "RelayState": ""})

    assert_refused_without_a_user(response, provider)
    assert LOGIN_FAILED in response.content.decode()


def test_unknown_providers_are_not_found(acme, provider):
    jwt_provider = IdentityProvider.objects.create(
        organization=acme.organization, name="CI", type="jwt"
    )
    for slug in ("00000000-0000-0000-0000-000000000000", "not-a-uuid", str(jwt_provider.id)):
        browser = new_browser()
        for page in ("login", "metadata", "acs/finish"):
            assert browser.get(f"/auth/saml/{slug}/{page}/").status_code == 404
        finished = post_to_acs(browser, f"/auth/saml/{slug}/acs/", {"SAMLResponse": "x"})
        assert finished.status_code == 404
        assert browser.get(f"/auth/saml/{slug}/acs/finish/").status_code == 404


def _deflated(data: bytes) -> str:
    """SAML 2.0 bindings §3.4.4.1: what the HTTP-Redirect binding carries."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return base64.b64encode(compressor.compress(data) + compressor.flush()).decode()


@pytest.mark.parametrize("message", ["SAMLRequest", "SAMLResponse"])
@pytest.mark.parametrize(
    "value",
    [
        pytest.param("x", id="not-base64"),
        pytest.param(_b64(b"\xff\xff"), id="not-deflated-or-xml"),
        pytest.param(_deflated(b"hello"), id="not-xml"),
        pytest.param(_deflated(b""), id="empty"),
        pytest.param(_deflated(b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>'), id="dtd"),
    ],
)
def test_the_logout_endpoint_refuses_what_it_cannot_read(provider, message, value):
    """allauth's single-logout URL (in Doorman's SP metadata): a bad request, never a 500."""
    for send in (new_browser().get, new_browser().post):
        response = send(f"/auth/saml/{provider.id}/sls/", {message: value})
        assert response.status_code == 400, response.content


def test_the_default_mapping_also_reads_the_standard_long_attribute_names(acme, idp):
    """This IdP sends LDAP OIDs (urn:oid:…), as Shibboleth does: the default short names
    still find the email and names, without the administrator mapping them."""
    provider = register_saml_provider(acme, idp, domain="acme.example", attribute_mapping={})
    signed = sign_in(new_browser())
    assert signed.status_code == 302, signed.content
    (user,) = sso_users(provider)
    assert user.email == ADA["email"]
    assert (user.first_name, user.last_name) == (ADA["givenName"], ADA["sn"])
