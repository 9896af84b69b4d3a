"""Passkeys over HTTP (SPEC §11): a passkey set up from the account pages signs its user in
alone, as two factors (the key, and the PIN or biometric that unlocks it: allauth takes no
passkey sign-in without user verification); a security key settles a session that owes a
second factor. A software authenticator (tests.accounts.soft_authenticator) plays the browser's
part; tests/e2e/test_passkeys.py does the same in Chromium.
"""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.access import Access
from accounts.security_policy import security_policy_update
from tests.accounts.soft_authenticator import (
    SoftAuthenticator,
    passkey_added,
    passkey_sign_in,
    webauthn_reauthenticated,
)
from tests.accounts.test_mfa import REAUTHENTICATE, signed_in
from tests.factories import DEFAULT_PASSWORD
from tests.oauth.code_flow import tokens_for, unverified_claims
from tests.oauth.tokenkit import isolated_throttle  # noqa: F401 (autouse fixture)

pytestmark = pytest.mark.django_db

PROFILE = "/accounts/api/profile"
MY_APPS = "/my-apps/"


def passkey_enrolled(user, authenticator: SoftAuthenticator | None = None):
    """A browser that signed in with the password, then added a passkey (allauth asks for
    the password again first); the passkey."""
    authenticator = authenticator or SoftAuthenticator()
    browser = signed_in(user)
    assert browser.post(REAUTHENTICATE, {"password": DEFAULT_PASSWORD}).status_code == 302
    added = passkey_added(browser, authenticator)
    assert added.status_code == 302, added.context["form"].errors if added.context else added
    return browser, authenticator


def test_the_sign_in_page_offers_a_passkey(db):
    """The portal's sign-in template replaces allauth's: it must keep the passkey button and
    the form allauth's script posts the passkey with."""
    page = Client().get("/auth/login/").content.decode()
    assert 'id="passkey_login"' in page and "Sign in with a passkey" in page
    assert '<form id="mfa_login" action="/auth/2fa/webauthn/login/" method="post">' in page


def test_the_keys_page_lists_a_passkey(member):
    """allauth's own list template needs django.contrib.humanize, not installed here: the
    page was a server error once a key existed."""
    _, passkey = passkey_enrolled(member)
    browser = Client()
    passkey_sign_in(browser, passkey)
    page = browser.get("/auth/2fa/webauthn/")
    assert page.status_code == 200
    assert "Laptop" in page.content.decode() and "Passkey" in page.content.decode()


def test_a_security_key_settles_a_session_that_owes_the_factor(member):
    """A browser signed in with the password before its user added their only factor, a
    key: the portal sends it to the security-key step (not the code form: they have no
    authenticator app), which it may use; then back. (The browser that added the key used
    it by adding it: accounts.factors.factor_setup_recorded.)"""
    browser = signed_in(member)
    _, key = passkey_enrolled(member)
    step = browser.get(MY_APPS)  # any portal page (/ sends a member without permissions there)
    assert step["Location"] == "/auth/2fa/webauthn/reauthenticate/?next=%2Fmy-apps%2F"
    done = webauthn_reauthenticated(browser, key, step["Location"])
    assert done.status_code == 302 and done["Location"] == MY_APPS
    assert browser.get(MY_APPS).status_code == 200
    assert browser.get(PROFILE).json()["username"] == member.username


def test_a_passkey_alone_signs_in_as_two_factors(member, code_app):
    """RFC 8176: the key (`hwk`), the user verified at it (`user`), two factors (`mfa`)."""
    _, passkey = passkey_enrolled(member)
    browser = Client()
    signed = passkey_sign_in(browser, passkey)
    assert signed.status_code == 302 and signed["Location"] == "/"
    assert browser.get(PROFILE).json()["username"] == member.username
    claims = unverified_claims(tokens_for(browser, code_app, scope="openid")["id_token"])
    assert claims["amr"] == ["hwk", "user", "mfa"]
    assert claims["acr"] == "2"


def test_a_passkey_that_does_not_verify_its_user_signs_no_one_in(member):
    """What the amr rule relies on: allauth refuses a passkey sign-in without user
    verification (presence alone is one factor, which a password-less sign-in cannot be)."""
    _, passkey = passkey_enrolled(member)
    passkey.verifies_user = False
    browser = Client()
    refused = passkey_sign_in(browser, passkey)
    assert refused.status_code == 302 and refused["Location"] == "/auth/login/"
    assert browser.get(PROFILE).status_code == 401


def test_the_policy_takes_a_passkey_sign_in_as_its_second_factor(admin, code_app):
    """With a second factor required of admins, a passkey sign-in is not asked for another:
    the portal, the API and a code (its ID token saying `mfa`, acr 2)."""
    _, passkey = passkey_enrolled(admin)
    security_policy_update(access=Access(user=admin), org=admin.organization, mfa_required="admins")
    browser = Client()
    assert passkey_sign_in(browser, passkey)["Location"] == "/"
    assert browser.get("/").status_code == 200
    assert browser.get(PROFILE).status_code == 200
    claims = unverified_claims(tokens_for(browser, code_app, scope="openid")["id_token"])
    assert "mfa" in claims["amr"] and claims["acr"] == "2"
