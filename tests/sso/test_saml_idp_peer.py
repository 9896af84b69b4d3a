"""The test IdP (tests/sso/saml_idp.py) against the SP code Doorman runs: python3-saml
(onelogin), configured the way django-allauth's SAML provider configures it from a SocialApp,
driven with `requests` as a browser would be. No Doorman code is involved: these tests prove the
peer, so a failure in Doorman's SAML tests is Doorman's."""

from __future__ import annotations

import base64
from html.parser import HTMLParser
from urllib.parse import urljoin

import pytest
import requests
from allauth.socialaccount.providers.saml.utils import build_saml_config
from django.test import RequestFactory
from lxml.etree import QName
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.authn_request import OneLogin_Saml2_Authn_Request
from onelogin.saml2.constants import OneLogin_Saml2_Constants
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from tests.sso.saml_idp import ATTRIBUTE_NAMES, WRONG_PASSWORD, SamlIdp

ORG = "acme"
SP_HOST = "localhost:8000"
SP_BASE = f"http://{SP_HOST}"
# allauth's defaults: the SP's entity ID is its metadata URL; the ACS is /auth/saml/<org>/acs/.
SP_ENTITY_ID = f"{SP_BASE}/auth/saml/{ORG}/metadata/"
ACS_PATH = f"/auth/saml/{ORG}/acs/"
ACS_URL = f"{SP_BASE}{ACS_PATH}"
SLS_URL = f"{SP_BASE}/auth/saml/{ORG}/sls/"

ADA = {
    "email": "ada@example.com",
    "givenName": "Ada",
    "sn": "Lovelace",
    "uid": "ada",
    "groups": ["staff", "admins"],
}

# What allauth's `advanced` defaults leave on, and the stricter settings an org may choose.
ALLAUTH_DEFAULTS: dict = {}
SIGNATURES_WANTED = {"want_assertion_signed": True, "want_message_signed": True}
EITHER_SETTINGS = pytest.mark.parametrize(
    "advanced", [ALLAUTH_DEFAULTS, SIGNATURES_WANTED], ids=["allauth-defaults", "signatures-wanted"]
)


def sp_settings(idp: dict, advanced: dict | None = None) -> dict:
    """python3-saml settings as allauth's `build_saml_config` makes them from a SocialApp's
    settings {"idp": …, "advanced": …} (test_sp_settings_are_allauths holds the two equal)."""
    avd = advanced or {}
    sp = {
        "entityId": SP_ENTITY_ID,
        "assertionConsumerService": {
            "url": ACS_URL,
            "binding": OneLogin_Saml2_Constants.BINDING_HTTP_POST,
        },
        "singleLogoutService": {
            "url": SLS_URL,
            "binding": OneLogin_Saml2_Constants.BINDING_HTTP_REDIRECT,
        },
    }
    if avd.get("name_id_format") is not None:
        sp["NameIDFormat"] = avd["name_id_format"]
    return {
        "strict": avd.get("strict", True),
        "security": {
            "authnRequestsSigned": False,
            "digestAlgorithm": OneLogin_Saml2_Constants.SHA256,
            "logoutRequestSigned": False,
            "logoutResponseSigned": False,
            "requestedAuthnContext": False,
            "signatureAlgorithm": OneLogin_Saml2_Constants.RSA_SHA256,
            "signMetadata": False,
            "wantAssertionsEncrypted": False,
            "wantAssertionsSigned": avd.get("want_assertion_signed", False),
            "wantMessagesSigned": avd.get("want_message_signed", False),
            "nameIdEncrypted": False,
            "wantNameIdEncrypted": False,
            "allowSingleLabelDomains": False,
            "rejectDeprecatedAlgorithm": True,
            "wantNameId": False,
            "wantAttributeStatement": True,
            "allowRepeatAttributeName": True,
            "metadataValidUntil": None,
            "metadataCacheDuration": None,
        },
        "idp": {
            "entityId": idp["entity_id"],
            "x509cert": idp["x509cert"],
            "singleSignOnService": {"url": idp["sso_url"]},
        },
        "sp": sp,
    }


def sp_request(path: str, post: dict | None = None, get: dict | None = None) -> dict:
    """The request dict allauth's `prepare_django_request` gives python3-saml."""
    return {
        "https": "off",
        "http_host": SP_HOST,
        "script_name": "",
        "path_info": path,
        "get_data": get or {},
        "post_data": post or {},
    }


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attr = dict(attrs)
        if tag == "form":
            self.forms.append({"action": attr.get("action"), "fields": {}, "buttons": []})
        elif tag == "input" and self.forms and attr.get("name"):
            self.forms[-1]["fields"][attr["name"]] = attr.get("value") or ""
        elif tag == "button" and self.forms:
            self.forms[-1]["buttons"].append((attr.get("name"), attr.get("value")))


def the_form(page: requests.Response) -> dict:
    parser = _Forms()
    parser.feed(page.text)
    assert len(parser.forms) == 1, page.text
    form = parser.forms[0]
    form["action"] = urljoin(page.url, form["action"])
    return form


class Browser:
    """An SP-initiated sign-in as the browser sees it: SP → IdP form → auto-post to the ACS."""

    def __init__(self, settings: dict) -> None:
        self.settings = settings
        self.session = requests.Session()
        self.request_id: str | None = None

    def start(self, **login_kwargs) -> requests.Response:
        auth = OneLogin_Saml2_Auth(sp_request(f"/auth/saml/{ORG}/login/"), self.settings)
        # allauth's SAMLProvider.redirect: return_to="" (its state is stashed by request ID).
        url = auth.login(return_to="", **login_kwargs)
        self.request_id = auth.get_last_request_id()
        return self.session.get(url, timeout=10)

    def sign_in(self, login_page: requests.Response, username: str, password: str):
        form = the_form(login_page)
        assert form["buttons"][0] == ("action", "sign-in")
        fields = {**form["fields"], "username": username, "password": password}
        return self.session.post(form["action"], data={"action": "sign-in", **fields}, timeout=10)

    def cancel(self, login_page: requests.Response) -> requests.Response:
        form = the_form(login_page)
        return self.session.post(
            form["action"], data={**form["fields"], "action": "cancel"}, timeout=10
        )

    def acs(self, post_page: requests.Response, *, saml_response: str | None = None):
        """What the auto-post form sends, processed as allauth's ACS does (with InResponseTo
        checked here, where allauth checks it against its stashed state)."""
        form = the_form(post_page)
        assert form["action"] == ACS_URL
        post = dict(form["fields"])
        if saml_response is not None:
            post["SAMLResponse"] = saml_response
        auth = OneLogin_Saml2_Auth(sp_request(ACS_PATH, post=post), self.settings)
        auth.process_response(request_id=self.request_id)
        return auth, post


@pytest.fixture
def idp(saml_idp: SamlIdp) -> SamlIdp:
    saml_idp.add_user("ada", "correct horse", ADA)
    saml_idp.add_sp(SP_ENTITY_ID, ACS_URL)
    return saml_idp


def settings_for(idp: SamlIdp, advanced: dict | None = None) -> dict:
    return sp_settings(idp.allauth_idp_settings(), advanced)


def test_sp_settings_are_allauths(idp):
    """The settings these tests validate with are the ones allauth builds for a SocialApp."""
    request = RequestFactory().get("/", HTTP_HOST=SP_HOST)
    for advanced in (ALLAUTH_DEFAULTS, SIGNATURES_WANTED):
        provider_config = {"idp": idp.allauth_idp_settings(), "advanced": advanced}
        assert build_saml_config(request, provider_config, ORG) == settings_for(idp, advanced)


def test_metadata_is_what_onelogin_reads(idp):
    """allauth's "metadata_url" path: python3-saml's metadata parser finds the redirect SSO
    endpoint and the signing certificate."""
    parsed = OneLogin_Saml2_IdPMetadataParser.parse_remote(
        idp.metadata_url, entity_id=idp.entity_id, timeout=10
    )["idp"]
    assert parsed["entityId"] == idp.entity_id
    assert parsed["singleSignOnService"] == {
        "url": idp.sso_redirect_url,
        "binding": OneLogin_Saml2_Constants.BINDING_HTTP_REDIRECT,
    }
    assert parsed["x509cert"] == idp.x509cert
    settings = OneLogin_Saml2_Settings(
        {**settings_for(idp), "idp": parsed}, sp_validation_only=False
    )
    assert settings.get_errors() == []


@EITHER_SETTINGS
def test_sign_in_is_accepted_by_onelogin(idp, advanced):
    browser = Browser(settings_for(idp, advanced))
    login_page = browser.start()
    assert login_page.status_code == 200
    assert 'for="username">Username</label>' in login_page.text
    assert 'for="password">Password</label>' in login_page.text
    assert ">Sign in</button>" in login_page.text
    seen = idp.authn_requests[-1]
    assert (seen.id, seen.sp_entity_id, seen.acs_url) == (browser.request_id, SP_ENTITY_ID, ACS_URL)
    assert seen.relay_state == ""

    post_page = browser.sign_in(login_page, "ada", "correct horse")

    assert post_page.status_code == 200
    assert "document.forms[0].submit()" in post_page.text
    auth, posted = browser.acs(post_page)
    assert auth.get_errors() == [], auth.get_last_error_reason()
    assert auth.is_authenticated()
    assert posted["RelayState"] == ""
    assert auth.get_last_response_in_response_to() == browser.request_id
    assert auth.get_nameid_format() == OneLogin_Saml2_Constants.NAMEID_PERSISTENT
    assert auth.get_nameid() == idp.persistent_id("ada", SP_ENTITY_ID)
    assert auth.get_nameid_spnq() == SP_ENTITY_ID
    attributes = auth.get_attributes()
    assert attributes == {
        ATTRIBUTE_NAMES["email"]: ["ada@example.com"],
        ATTRIBUTE_NAMES["givenName"]: ["Ada"],
        ATTRIBUTE_NAMES["sn"]: ["Lovelace"],
        ATTRIBUTE_NAMES["uid"]: ["ada"],
        ATTRIBUTE_NAMES["groups"]: ["staff", "admins"],
    }
    assert auth.get_friendlyname_attributes()["groups"] == ["staff", "admins"]
    # Both the response and its assertion are signed, with RSA-SHA256 over SHA-256 digests.
    doc = OneLogin_Saml2_XML.to_etree(idp.responses[-1].xml)
    signatures = OneLogin_Saml2_XML.query(doc, "//ds:Signature")
    assert sorted(QName(s.getparent()).localname for s in signatures) == ["Assertion", "Response"]
    algorithms = {a for a in doc.xpath("//@Algorithm") if "sha" in a}
    assert algorithms == {OneLogin_Saml2_Constants.RSA_SHA256, OneLogin_Saml2_Constants.SHA256}


def test_metadata_url_configuration_signs_in(idp):
    parsed = OneLogin_Saml2_IdPMetadataParser.parse_remote(
        idp.metadata_url, entity_id=idp.entity_id, timeout=10
    )["idp"]
    browser = Browser({**settings_for(idp, SIGNATURES_WANTED), "idp": parsed})
    auth, _ = browser.acs(browser.sign_in(browser.start(), "ada", "correct horse"))
    assert auth.get_errors() == [], auth.get_last_error_reason()
    assert auth.get_attribute(ATTRIBUTE_NAMES["email"]) == ["ada@example.com"]


def test_a_wrong_password_is_refused_and_may_be_retried(idp):
    browser = Browser(settings_for(idp))
    login_page = browser.start()

    refused = browser.sign_in(login_page, "ada", "wrong")
    unknown = browser.sign_in(login_page, "nobody", "correct horse")

    for page in (refused, unknown):
        assert page.status_code == 401
        assert WRONG_PASSWORD in page.text
        assert "SAMLResponse" not in page.text
    assert idp.responses == []
    auth, _ = browser.acs(browser.sign_in(refused, "ada", "correct horse"))
    assert auth.is_authenticated()


def test_a_finished_sign_in_cannot_be_replayed(idp):
    browser = Browser(settings_for(idp))
    login_page = browser.start()
    browser.sign_in(login_page, "ada", "correct horse")
    again = browser.sign_in(login_page, "ada", "correct horse")
    assert again.status_code == 400


@EITHER_SETTINGS
def test_a_tampered_attribute_is_rejected(idp, advanced):
    browser = Browser(settings_for(idp, advanced))
    post_page = browser.sign_in(browser.start(), "ada", "correct horse")
    xml = base64.b64decode(the_form(post_page)["fields"]["SAMLResponse"]).decode()
    assert xml.count("ada@example.com") == 1
    forged = base64.b64encode(xml.replace("ada@example.com", "eve@example.com").encode())

    auth, _ = browser.acs(post_page, saml_response=forged.decode())

    assert auth.get_errors() == ["invalid_response"]
    assert "Signature validation failed" in auth.get_last_error_reason()
    assert not auth.is_authenticated()


@pytest.mark.parametrize(
    ("sign_response", "sign_assertion", "advanced", "accepted"),
    [
        (True, False, ALLAUTH_DEFAULTS, True),
        (False, True, ALLAUTH_DEFAULTS, True),
        (True, False, {"want_assertion_signed": True}, False),
        (False, True, {"want_message_signed": True}, False),
        (False, False, ALLAUTH_DEFAULTS, False),  # python3-saml wants one signature, always
    ],
)
def test_which_signatures_onelogin_requires(idp, sign_response, sign_assertion, advanced, accepted):
    idp.sign_response, idp.sign_assertion = sign_response, sign_assertion
    browser = Browser(settings_for(idp, advanced))
    auth, _ = browser.acs(browser.sign_in(browser.start(), "ada", "correct horse"))
    assert auth.is_authenticated() is accepted, auth.get_last_error_reason()


def test_a_response_for_another_request_or_sp_is_rejected(idp):
    browser = Browser(settings_for(idp, SIGNATURES_WANTED))
    post_page = browser.sign_in(browser.start(), "ada", "correct horse")
    fields = the_form(post_page)["fields"]

    browser.request_id = "ONELOGIN_not_this_one"
    auth, _ = browser.acs(post_page)
    assert "InResponseTo" in auth.get_last_error_reason()

    # Another SP (even at the same ACS URL) is not the assertion's audience.
    other = settings_for(idp, SIGNATURES_WANTED)
    other["sp"] = {**other["sp"], "entityId": f"{SP_BASE}/auth/saml/other/metadata/"}
    at_other = OneLogin_Saml2_Auth(sp_request(ACS_PATH, post=fields), other)
    at_other.process_response()
    assert not at_other.is_authenticated()
    assert "is not a valid audience" in at_other.get_last_error_reason()

    # Nor is the response for another ACS (SAML 2.0 core §3.2.2: Destination).
    elsewhere = OneLogin_Saml2_Auth(sp_request("/auth/saml/other/acs/", post=fields), other)
    elsewhere.process_response()
    assert not elsewhere.is_authenticated()
    assert f"instead of {ACS_URL}" in elsewhere.get_last_error_reason()


def test_an_expired_response_is_rejected(idp, monkeypatch):
    browser = Browser(settings_for(idp, SIGNATURES_WANTED))
    post_page = browser.sign_in(browser.start(), "ada", "correct horse")
    later = OneLogin_Saml2_Utils.now() + 3600
    monkeypatch.setattr(OneLogin_Saml2_Utils, "now", staticmethod(lambda: later))
    auth, _ = browser.acs(post_page)
    assert not auth.is_authenticated()
    assert "expired" in auth.get_last_error_reason().lower()


def test_cancel_returns_an_error_status(idp):
    browser = Browser(settings_for(idp))
    auth, _ = browser.acs(browser.cancel(browser.start()))
    assert not auth.is_authenticated()
    assert "Responder -> The user cancelled" in auth.get_last_error_reason()
    assert "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed" in idp.responses[-1].xml


def test_name_id_formats(idp):
    # An SP asking for emailAddress gets the user's email.
    browser = Browser(
        settings_for(idp, {"name_id_format": OneLogin_Saml2_Constants.NAMEID_EMAIL_ADDRESS})
    )
    auth, _ = browser.acs(browser.sign_in(browser.start(), "ada", "correct horse"))
    assert auth.get_nameid_format() == OneLogin_Saml2_Constants.NAMEID_EMAIL_ADDRESS
    assert auth.get_nameid() == "ada@example.com"
    # An IdP set to unspecified NameIDs sends the username.
    idp.name_id_format = "unspecified"
    browser = Browser(settings_for(idp))
    auth, _ = browser.acs(browser.sign_in(browser.start(), "ada", "correct horse"))
    assert auth.get_nameid_format() == OneLogin_Saml2_Constants.NAMEID_UNSPECIFIED
    assert auth.get_nameid() == "ada"


def test_the_post_binding_is_accepted(idp):
    settings = sp_settings({**idp.allauth_idp_settings(), "sso_url": idp.sso_post_url})
    browser = Browser(settings)
    request = OneLogin_Saml2_Authn_Request(OneLogin_Saml2_Settings(settings))
    browser.request_id = request.get_id()
    login_page = browser.session.post(
        idp.sso_post_url,
        data={"SAMLRequest": request.get_request(deflate=False), "RelayState": "/next"},
        timeout=10,
    )
    assert login_page.status_code == 200
    auth, posted = browser.acs(browser.sign_in(login_page, "ada", "correct horse"))
    assert auth.is_authenticated(), auth.get_last_error_reason()
    assert posted["RelayState"] == "/next"


def test_an_unregistered_sp_or_acs_gets_no_assertion(idp):
    stranger = Browser(settings_for(idp))
    stranger.settings["sp"] = {**stranger.settings["sp"], "entityId": "http://stranger.test/sp"}
    assert stranger.start().status_code == 400

    idp.remove_sp(SP_ENTITY_ID)
    idp.add_sp(SP_ENTITY_ID, f"{SP_BASE}/elsewhere/acs/")
    page = Browser(settings_for(idp)).start()
    assert page.status_code == 400
    assert idp.responses == []


def test_an_sp_registered_by_its_metadata_signs_in(saml_idp):
    """What allauth's /auth/saml/<org>/metadata/ serves is enough to register the SP."""
    saml_idp.add_user("ada", "correct horse", ADA)
    settings = settings_for(saml_idp, SIGNATURES_WANTED)
    metadata = OneLogin_Saml2_Settings(settings, sp_validation_only=True).get_sp_metadata()
    assert saml_idp.add_sp_metadata(metadata) == SP_ENTITY_ID
    browser = Browser(settings)
    auth, _ = browser.acs(browser.sign_in(browser.start(), "ada", "correct horse"))
    assert auth.is_authenticated(), auth.get_last_error_reason()
