"""Red-team review of 6aebed4..3c29048 (issue 15, SPEC §11): OIDC authentication requests
(prompt=login, max_age, login_hint, auth_time/amr/acr), second factors on allauth's mfa, the
org sign-in policy, and the user's sessions.

Every attack goes over HTTP with Django's test client. A failing test documents a bug; a
passing one pins a property an attacker would try to break.
"""

from __future__ import annotations

import pytest
from django.test import Client

from oauth.models import Grant
from oauth.services import authorization_grant
from tests.accounts.test_mfa import (
    REAUTHENTICATE,
    SIGN_IN,
    fresh_code,
    signed_in,
    totp_enrolled,
)
from tests.accounts.test_security_policy import (
    policy_url,
    put,
    session_of,
    signed_in_with_a_factor,
    with_a_factor,
)
from tests.factories import DEFAULT_PASSWORD
from tests.oauth.code_flow import (
    authorize_url,
    pkce_pair,
    redeem_code,
    redirect_params,
    unverified_claims,
)
from tests.oauth.tokenkit import isolated_throttle  # noqa: F401 (autouse fixture)

pytestmark = pytest.mark.django_db
MY_APPS = "/my-apps/"  # a page every signed-in user may open (/ sends end users there)


def consent_post(browser: Client, app, challenge: str):
    """The consent form's Allow, posted straight away: the fields are no secret (the client
    put them in the authorization URL), the screen never having been shown."""
    url = authorize_url(app, challenge=challenge)
    fields = {
        "redirect_uri": "https://client.example/callback",
        "scope": "openid profile",
        "nonce": "",
        "client_id": app.client_id,
        "state": "state-123",
        "response_type": "code",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "claims": "",
        "allow": "true",
    }
    return browser.post(url, fields)


# -- second factor bypass: the consent POST ------------------------------------------------------
def test_consent_post_gives_no_code_to_a_session_the_policy_holds(admin, org, member, code_app):
    """Found by review, now fixed.

    The second-factor check lives in the GET of /authorize only; the Allow form's
    POST (form_valid) never looks, and the middleware leaves /accounts/api/v2/oauth2/ open. A
    member whom the org's policy requires to use a second factor, signed in with a password
    alone, posts Allow directly and gets a code (and tokens) without ever setting one up."""
    with_a_factor(admin)
    assert put(signed_in_with_a_factor(admin), org, {"mfa_required": "everyone"}).status_code == 200
    browser = signed_in(member)  # allauth's sign-in with the password only
    _, challenge = pkce_pair()
    held = browser.get(authorize_url(code_app.app, challenge=challenge))
    assert held.status_code == 302 and held["Location"] == "/auth/2fa/"  # the GET is held
    response = consent_post(browser, code_app.app, challenge)
    params = redirect_params(response) if response.status_code == 302 else {}
    assert "code" not in params, "a code for a password-only session the policy holds"
    assert not Grant.objects.exists()


def test_consent_post_gives_no_code_to_a_session_that_never_used_the_factor(member, code_app):
    """Found by review, now fixed.

    A user with TOTP whose session never used it (signed in before the
    factor was set up, e.g. a stolen or forgotten browser) gets a code from the POST, and an
    ID token saying acr 1 — a token the factor was meant to protect."""
    authorization_grant(user=member, app=code_app.app, scopes=["openid", "profile"])
    old = signed_in(member)  # a browser signed in before the factor existed
    totp_enrolled(member)  # the user sets TOTP up in another browser
    verifier, challenge = pkce_pair()
    held = old.get(authorize_url(code_app.app, challenge=challenge))
    assert held["Location"].startswith("/auth/2fa/reauthenticate/")  # the GET is held
    response = consent_post(old, code_app.app, challenge)
    params = redirect_params(response) if response.status_code == 302 else {}
    if "code" in params:
        token = redeem_code(Client(), code_app, params["code"], verifier)
        acr = (
            unverified_claims(token.json()["id_token"]).get("acr")
            if token.status_code == 200
            else None
        )
        pytest.fail(f"a code without the second factor (token {token.status_code}, acr {acr})")


# -- second factor bypass: allauth's own pages ---------------------------------------------------
def test_a_session_from_before_the_factor_cannot_remove_it(member):
    """Found by review, now fixed.

    /auth/ is wholly open to a session that owes a second factor, including the pages
    that manage factors. A browser signed in with the password before TOTP was set up (the
    very browser the user meant to shut out) deactivates it, re-authenticating with the
    password alone, and is then a full session: the factor is gone without ever being used."""
    from allauth.mfa.models import Authenticator

    old = signed_in(member)
    totp_enrolled(member)
    assert old.get(MY_APPS)["Location"].startswith("/auth/2fa/reauthenticate/")  # held
    old.post(REAUTHENTICATE, {"password": DEFAULT_PASSWORD})  # the password, nothing else
    old.post("/auth/2fa/totp/deactivate/", {})
    assert Authenticator.objects.filter(user=member, type="totp").exists(), (
        "a password-only session removed the user's second factor"
    )
    assert old.get(MY_APPS).status_code != 200


def test_a_session_from_before_the_factor_cannot_read_the_recovery_codes(member):
    """Found by review, now fixed.

    The recovery codes, each a second factor, are shown to a session
    that never used the factor; one of them then completes its 'second factor'."""
    old = signed_in(member)
    totp_enrolled(member)
    old.post(REAUTHENTICATE, {"password": DEFAULT_PASSWORD})
    page = old.get("/auth/2fa/recovery-codes/")
    codes = (page.context or {}).get("unused_codes") if page.status_code == 200 else None
    assert not codes, "a password-only session reads the recovery codes"


def test_a_password_and_the_totp_sign_in_is_required_at_allauths_sign_in(member):
    """Pinned: allauth's sign-in with the password alone leaves no signed-in session."""
    _, totp = totp_enrolled(member)
    browser = Client()
    browser.post(SIGN_IN, {"login": member.username, "password": DEFAULT_PASSWORD})
    assert browser.get("/accounts/api/profile").status_code in (401, 403)
    assert browser.get("/")["Location"].startswith("/auth/login/")
    assert fresh_code(totp, totp.now())  # (the helper works with this enrolment)


# -- the sign-in policy --------------------------------------------------------------------------
def test_the_policy_is_the_root_admins_only(member, org, other_admin, admin):
    """Pinned: a member is refused, another tenant's admin sees no such org."""
    member_put = put(signed_in_with_a_factor(with_a_factor(member)), org, {"mfa_required": "off"})
    assert member_put.status_code == 403
    outsider = signed_in_with_a_factor(with_a_factor(other_admin))
    assert put(outsider, org, {"mfa_required": "off"}).status_code == 404
    assert outsider.get(policy_url(org)).status_code == 404


def test_the_policy_put_with_a_session_needs_the_csrf_token(admin, org):
    """Pinned: a cross-site PUT/POST riding the admin's session changes nothing."""
    with_a_factor(admin)
    browser = signed_in_with_a_factor(admin)
    browser.handler.enforce_csrf_checks = True
    response = put(browser, org, {"mfa_required": "everyone"})
    assert response.status_code == 403
    page = browser.post(
        f"/access-management/organizations/{org.id}/sign-in-policy", {"mfa_required": "everyone"}
    )
    assert page.status_code == 403


# -- sessions ------------------------------------------------------------------------------------
def test_sessions_delete_with_a_session_needs_the_csrf_token(member):
    """Pinned: a cross-site DELETE riding the session signs nobody out."""
    victim = session_of(member)
    attacker_page = session_of(member)
    attacker_page.handler.enforce_csrf_checks = True
    assert attacker_page.delete("/accounts/api/profile/sessions").status_code == 403
    assert victim.get(MY_APPS).status_code == 200
    end_all = attacker_page.post("/account/sessions/end-all", {"confirm": "yes"})
    assert end_all.status_code in (403, 404)


def test_a_listed_session_id_is_no_cookie(member, settings):
    """Pinned: the id the list shows (the key's digest) signs nobody in as a cookie."""
    browser = session_of(member)
    sessions = browser.get("/accounts/api/profile/sessions").json()
    listed = [s["id"] for s in sessions["data"]]
    thief = Client()
    thief.cookies[settings.SESSION_COOKIE_NAME] = listed[0]
    assert thief.get("/accounts/api/profile").status_code in (401, 403)


def test_one_user_cannot_end_anothers_session_by_its_id(member, admin):
    """Pinned: another user's session id is 404 to the API and the page."""
    victim = session_of(admin)
    sid = victim.get("/accounts/api/profile/sessions").json()["data"][0]["id"]
    attacker = session_of(member)
    assert attacker.delete(f"/accounts/api/profile/sessions/{sid}").status_code == 404
    assert attacker.post(f"/account/sessions/{sid}/end", {"confirm": "yes"}).status_code == 404
    assert victim.get("/").status_code == 200


# -- login_hint, prompt=login ---------------------------------------------------------------------
def test_login_hint_is_escaped_on_the_sign_in_page(code_app):
    """Pinned: the hint is a form value, never markup."""
    hint = '"><script>alert(1)</script>'
    _, challenge = pkce_pair()
    response = Client().get(authorize_url(code_app.app, challenge=challenge, login_hint=hint))
    page = Client().get(response["Location"])
    assert page.status_code == 200
    assert b"<script>alert(1)</script>" not in page.content


def test_prompt_login_sends_back_to_this_server_only(member, code_app):
    """Pinned: the re-authentication's `next` is this endpoint's path, whatever the query."""
    browser = signed_in(member)
    _, challenge = pkce_pair()
    url = authorize_url(code_app.app, challenge=challenge, prompt="login")
    response = browser.get(url + "&next=https://evil.example/")
    location = response["Location"]
    assert location.startswith(REAUTHENTICATE)
    back = browser.post(location, {"password": DEFAULT_PASSWORD})
    assert back.status_code == 302 and back["Location"].startswith("/accounts/api/v2/oauth2/")


def test_the_second_factor_step_never_sends_outside(member):
    """Pinned: the middleware's `next` is the path asked for; a scheme-relative one
    (`//evil.example/`) is not followed after the factor."""
    browser, totp = totp_enrolled(member)  # a password-only session, the factor set up
    step = browser.get("//evil.example/")
    assert step.status_code == 302 and step["Location"].startswith("/auth/2fa/reauthenticate/")
    back = browser.post(step["Location"], {"code": fresh_code(totp, totp.now())})
    assert back.status_code == 302
    assert "evil.example" not in back["Location"].split("?")[0].lstrip("/").split("/")[0]
    assert not back["Location"].startswith("//")


# -- acr_values ------------------------------------------------------------------------------------
def test_acr_values_2_is_not_answered_with_a_single_factor_code(member, code_app):
    """SPEC §11: `acr_values` may ask for MFA. Found by review, now fixed: the request was
    ignored; a session
    that used a password alone gets a code straight away whose ID token says acr 1, the
    second factor the client asked for never asked for (nor an error returned)."""
    authorization_grant(user=member, app=code_app.app, scopes=["openid", "profile"])
    browser = signed_in(member)
    verifier, challenge = pkce_pair()
    response = browser.get(authorize_url(code_app.app, challenge=challenge, acr_values="2"))
    params = redirect_params(response) if response.status_code == 302 else {}
    if "code" in params:
        token = redeem_code(Client(), code_app, params["code"], verifier).json()
        assert unverified_claims(token["id_token"])["acr"] == "2", (
            "acr_values=2 answered with acr 1"
        )
