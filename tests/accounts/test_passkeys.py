"""Passkeys over HTTP (SPEC §11): the sign-in page offers them, the account pages list them,
and a security key settles a session that owes a second factor. A software authenticator
(tests.accounts.soft_authenticator) plays the browser's part; tests/e2e/test_passkeys.py does
the same in Chromium.
"""

from __future__ import annotations

import pytest
from django.test import Client

from tests.accounts.soft_authenticator import (
    SoftAuthenticator,
    passkey_added,
    passkey_sign_in,
    webauthn_reauthenticated,
)
from tests.accounts.test_mfa import REAUTHENTICATE, signed_in
from tests.factories import DEFAULT_PASSWORD
from tests.oauth.tokenkit import isolated_throttle  # noqa: F401 (autouse fixture)

pytestmark = pytest.mark.django_db

PROFILE = "/accounts/api/profile"


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
    authenticator app), which it may use; then back."""
    browser, key = passkey_enrolled(member)
    step = browser.get("/")
    assert step["Location"] == "/auth/2fa/webauthn/reauthenticate/?next=%2F"
    done = webauthn_reauthenticated(browser, key, step["Location"])
    assert done.status_code == 302 and done["Location"] == "/"
    assert browser.get("/").status_code == 200
    assert browser.get(PROFILE).json()["username"] == member.username
