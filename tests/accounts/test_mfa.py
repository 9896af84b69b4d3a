"""Second factors (SPEC §11) on django-allauth's mfa: TOTP set up from the account pages, then
asked for at every sign-in; the ID token then says so (amr `otp` and `mfa`, acr `2`)."""

from __future__ import annotations

import json
import time

import pyotp
import pytest
from django.test import Client

from tests.factories import DEFAULT_PASSWORD
from tests.oauth.code_flow import (
    authorize_url,
    obtain_code,
    pkce_pair,
    redeem_code,
    unverified_claims,
)
from tests.oauth.tokenkit import (
    LOGIN_URL,
    basic,
    isolated_throttle,  # noqa: F401 (autouse fixture)
    post_form,
    post_json,
)

pytestmark = pytest.mark.django_db

SIGN_IN = "/auth/login/"
SIGN_OUT = "/auth/logout/"
TOTP_ACTIVATE = "/auth/2fa/totp/activate/"
SECOND_FACTOR = "/auth/2fa/authenticate/"
REAUTHENTICATE = "/auth/reauthenticate/"


def signed_in(user) -> Client:
    client = Client()
    response = client.post(SIGN_IN, {"login": user.username, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302, response.status_code
    return client


def totp_enrolled(user) -> tuple[Client, pyotp.TOTP]:
    """A browser that signed in and set TOTP up; the authenticator app's TOTP."""
    browser = signed_in(user)
    # Setting a factor up asks for the password again (allauth's reauthentication).
    assert browser.post(REAUTHENTICATE, {"password": DEFAULT_PASSWORD}).status_code == 302
    page = browser.get(TOTP_ACTIVATE)
    assert page.status_code == 200
    totp = pyotp.TOTP(page.context["form"].secret)
    done = browser.post(TOTP_ACTIVATE, {"code": totp.now()})
    assert done.status_code == 302, done.context["form"].errors if done.context else done
    return browser, totp


def fresh_code(totp: pyotp.TOTP, used: str) -> str:
    """A code allauth has not seen (it refuses one twice): the next step's, which it takes
    (MFA_TOTP_TOLERANCE), unless that is the same six digits."""
    for step in (1, -1):
        code = totp.at(time.time() + step * totp.interval)
        if code != used:
            return code
    raise AssertionError("three steps with the same code")


def test_a_user_sets_totp_up_and_is_asked_for_it_at_sign_in(member):
    browser, totp = totp_enrolled(member)
    used = totp.now()
    browser.post(SIGN_OUT)
    client = Client()
    response = client.post(SIGN_IN, {"login": member.username, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == SECOND_FACTOR  # not signed in yet
    assert client.get("/accounts/api/profile").status_code == 401
    wrong = client.post(SECOND_FACTOR, {"code": "000000" if used != "000000" else "111111"})
    assert wrong.status_code == 200  # asked again
    assert client.get("/accounts/api/profile").status_code == 401
    done = client.post(SECOND_FACTOR, {"code": fresh_code(totp, used)})
    assert done.status_code == 302
    assert client.get("/accounts/api/profile").json()["username"] == member.username


def test_an_id_token_says_a_second_factor_was_used(member, code_app):
    browser, totp = totp_enrolled(member)
    used = totp.now()
    browser.post(SIGN_OUT)
    client = Client()
    client.post(SIGN_IN, {"login": member.username, "password": DEFAULT_PASSWORD})
    client.post(SECOND_FACTOR, {"code": fresh_code(totp, used)})
    verifier, challenge = pkce_pair()
    code = obtain_code(client, code_app.app, challenge=challenge, scope="openid profile")["code"]
    response = redeem_code(Client(), code_app, code, verifier)
    claims = unverified_claims(response.json()["id_token"])
    assert claims["amr"] == ["pwd", "otp", "mfa"]
    assert claims["acr"] == "2"


# -- a password alone never signs such a user in ------------------------------------------------
@pytest.fixture
def password_app(make_app):
    return make_app(grant_types=["password"], redirect_uris=[], scopes=["profile"])


def test_the_password_flows_refuse_a_user_with_a_second_factor(member, password_app):
    """`POST /accounts/login` and the password grant cannot ask for the second factor: they
    answer interaction_required, naming the browser sign-in, never a token (SPEC §11)."""
    from oauth.models import AccessToken

    credentials = {"username": member.username, "password": DEFAULT_PASSWORD}
    grant = {"grant_type": "password", "scope": "profile", **credentials}
    basic_auth = basic(password_app.app.client_id, password_app.client_secret)
    # Before: both give tokens.
    assert post_json(credentials, url=LOGIN_URL).status_code == 200
    assert post_form(grant, HTTP_AUTHORIZATION=basic_auth).status_code == 200
    totp_enrolled(member)
    tokens = AccessToken.objects.count()
    for response in (
        post_json(credentials, url=LOGIN_URL),
        post_form(grant, HTTP_AUTHORIZATION=basic_auth),
    ):
        assert response.status_code == 400, response.content
        assert response.json()["error"] == "interaction_required"
        assert "authorization code flow" in response.json()["error_description"]
    assert AccessToken.objects.count() == tokens
    # A wrong password is still just a wrong password (nothing said about factors).
    wrong = post_json({**credentials, "password": "not-it"}, url=LOGIN_URL)
    assert wrong.json()["error"] == "invalid_grant"


def test_recovery_codes_alone_are_not_a_second_factor(member, password_app):
    from allauth.mfa.models import Authenticator

    Authenticator.objects.create(user=member, type=Authenticator.Type.RECOVERY_CODES, data={})
    credentials = {"username": member.username, "password": DEFAULT_PASSWORD}
    assert post_json(credentials, url=LOGIN_URL).status_code == 200


def test_setting_a_factor_up_and_removing_it_are_audited(
    member, django_capture_on_commit_callbacks
):
    """allauth announces factor changes once their transaction commits."""
    from audit.models import AuditEvent

    with django_capture_on_commit_callbacks(execute=True):
        browser, totp = totp_enrolled(member)
    added = AuditEvent.objects.filter(action="user.factor_added")
    assert sorted(event.details["type"] for event in added) == ["recovery_codes", "totp"]
    event = added.get(details__type="totp")
    assert event.actor_user_id == member.pk and event.organization_id == member.organization_id
    assert totp.secret not in json.dumps([e.details for e in added])
    # Removing it takes a session that used it (one from before it was set up must not).
    used = browser.post("/auth/2fa/reauthenticate/", {"code": fresh_code(totp, totp.now())})
    assert used.status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post("/auth/2fa/totp/deactivate/")
    assert response.status_code == 302, response.status_code
    removed = AuditEvent.objects.filter(action="user.factor_removed")
    assert {event.details["type"] for event in removed} >= {"totp"}


@pytest.mark.django_db(transaction=True)  # allauth signals the new factor on commit
def test_an_authorization_request_needing_a_factor_resumes_once_one_is_set_up(
    member, org, code_app
):
    """SPEC §11: a user without the factor their org requires is taken through setting one
    up, and then back to the app's request, which now gets its code."""
    from accounts.models import OrgSecurityPolicy

    OrgSecurityPolicy.objects.create(organization=org, mfa_required="everyone")
    browser = signed_in(member)
    _verifier, challenge = pkce_pair()
    url = authorize_url(code_app.app, challenge=challenge, scope="openid profile")
    sent = browser.get(url)
    assert sent.status_code == 302 and sent["Location"] == "/auth/2fa/"
    assert browser.post(REAUTHENTICATE, {"password": DEFAULT_PASSWORD}).status_code == 302
    totp = pyotp.TOTP(browser.get(TOTP_ACTIVATE).context["form"].secret)
    done = browser.post(TOTP_ACTIVATE, {"code": totp.now()})
    assert done.status_code == 302
    assert done["Location"] == url  # back to the app's request
    consent = browser.get(url)
    assert consent.status_code == 200  # the consent screen, not the factor step again


@pytest.mark.django_db(transaction=True)  # allauth signals the new factor on commit
def test_an_unverified_address_does_not_hold_a_factor_back(member, org):
    """Addresses are not verified here (ACCOUNT_EMAIL_VERIFICATION "none"), so allauth's
    refusal of a factor to an account with an unverified one (MFA_ALLOW_UNVERIFIED_EMAIL) was
    a dead end: the account page's "Set up authenticator app", and a user whose org requires
    a factor, came back to the two-factor page with "cannot activate…" and no way on."""
    from allauth.account.models import EmailAddress

    from accounts.models import OrgSecurityPolicy

    EmailAddress.objects.create(user=member, email=member.email, primary=True, verified=False)
    OrgSecurityPolicy.objects.create(organization=org, mfa_required="everyone")
    browser = signed_in(member)
    assert browser.get("/my-apps/")["Location"] == "/auth/2fa/"  # sent to set one up
    assert browser.post(REAUTHENTICATE, {"password": DEFAULT_PASSWORD}).status_code == 302
    page = browser.get(TOTP_ACTIVATE)
    assert page.status_code == 200  # the QR code, not a redirect back with an error
    totp = pyotp.TOTP(page.context["form"].secret)
    assert browser.post(TOTP_ACTIVATE, {"code": totp.now()}).status_code == 302
    assert member.authenticator_set.filter(type="totp").exists()
    # With a factor, the address can still be changed (allauth refused a new one too).
    added = browser.post(
        "/auth/email/", {"action_add": "", "email": "new-address@acme.example"}, follow=True
    )
    assert added.status_code == 200
    assert EmailAddress.objects.filter(user=member, email="new-address@acme.example").exists()


# -- allauth's pages in the portal's sentence case ----------------------------------------------
def assert_sentence_case(browser: Client, pages: dict[str, list[str]]) -> None:
    for url, wording in pages.items():
        response = browser.get(url)
        assert response.status_code == 200, (url, response.get("Location"))
        html = response.content.decode()
        for text in wording:
            assert text in html, (url, text)
            assert text.title() not in html, (url, text.title())


def test_allauths_pages_speak_in_sentence_case(member, admin):
    browser = signed_in(admin)
    assert browser.post(REAUTHENTICATE, {"password": DEFAULT_PASSWORD}).status_code == 302
    assert_sentence_case(
        browser,
        {
            "/auth/email/": ["Email addresses", "Make primary", "Re-send verification"],
            "/auth/password/change/": ["Change password"],
        },
    )
    browser, totp = totp_enrolled(member)  # recovery codes come with the first factor
    code = fresh_code(totp, totp.now())
    assert browser.post("/auth/2fa/reauthenticate/", {"code": code}).status_code == 302
    assert_sentence_case(
        browser,
        {
            "/auth/2fa/recovery-codes/": ["Recovery codes"],
            "/auth/2fa/recovery-codes/generate/": ["Recovery codes"],
            "/auth/2fa/totp/deactivate/": ["Deactivate authenticator app"],
            "/auth/2fa/webauthn/add/": ["Add security key"],
        },
    )
    sign_in = Client().get(SIGN_IN).content.decode()
    assert "Remember me" in sign_in and "Remember Me" not in sign_in
