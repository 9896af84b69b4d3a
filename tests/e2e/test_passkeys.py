"""Passkeys in a real browser (issue 15, SPEC §11).

Done when: in a real browser, an admin enrols a passkey and signs in with it alone.

Chromium's virtual authenticator (the DevTools protocol's WebAuthn domain) stands in for the
laptop's: it keeps resident credentials and verifies its user as a fingerprint or PIN would,
so the pages run the WebAuthn ceremonies a real one answers. `live_server` listens on
http://localhost, a secure context whose host is a valid RP ID (python-fido2 accepts that
origin too): no insecure-origin setting is needed.
"""

from __future__ import annotations

import json
import re
from importlib import import_module
from urllib.parse import parse_qsl, urlencode

import pytest
from django.conf import settings

from accounts.access import Access
from accounts.security_policy import security_policy_update
from accounts.services import organization_bootstrap
from audit.models import AuditEvent
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.browser

ADMIN_PASSWORD = "admin-pass-8f3K2x!"
PASSKEY_SIGN_IN = "**/auth/2fa/webauthn/login/"
HOME = re.compile(r"^https?://[^/]+/$")
MY_APPS = re.compile(r"^https?://[^/]+/my-apps/$")  # the home of a user with nothing to manage
SIGN_IN_PAGE = re.compile(r"/auth/login/$")


def sign_in(page, username: str, password: str, lands_on: re.Pattern = HOME) -> None:
    page.goto("/auth/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(lands_on)


def sign_out(page) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(SIGN_IN_PAGE)


def virtual_authenticator(page) -> None:
    """A platform authenticator with resident keys that verifies its user, answering every
    ceremony without a prompt."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    options = {
        "protocol": "ctap2",
        "transport": "internal",
        "hasResidentKey": True,
        "hasUserVerification": True,
        "isUserVerified": True,
        "automaticPresenceSimulation": True,
    }
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})


def open_factors(page) -> None:
    page.get_by_role("link", name="Doorman").click()  # allauth's pages have no side menu
    page.get_by_role("link", name="Sign-in & sessions").click()
    page.get_by_role("link", name="Two-factor authentication and passkeys").click()


def enrol_passkey(page, *, password: str, name: str, screenshot=None) -> None:
    """From the account page, as a user would: add a security key, passwordless."""
    from playwright.sync_api import expect

    open_factors(page)
    page.get_by_role("link", name="Add").click()
    # allauth asks for the password again before a factor is added.
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="Add security key")).to_be_visible()
    page.get_by_label("Name").fill(name)
    page.get_by_label("Passwordless").check()
    if screenshot:
        screenshot(page, "add-passkey")
    page.get_by_role("button", name="Add").click()
    # Adding the key proved it (accounts.factors.factor_setup_recorded): the session counts
    # as having used it, so the recovery codes allauth made with it are shown at once.
    page.wait_for_url(re.compile(r"/auth/2fa/recovery-codes/$"))
    expect(page.get_by_role("status")).to_contain_text("Security key added.")
    expect(page.get_by_role("heading", name="Recovery codes")).to_be_visible()


def passkey_list(page):
    from playwright.sync_api import expect

    open_factors(page)
    page.get_by_role("link", name="Manage").click()
    expect(page.get_by_role("heading", name="Security keys and passkeys")).to_be_visible()
    return page.get_by_role("table")


def server_session(page) -> dict:
    """The server-side session of the browser's cookie (empty without one)."""
    cookie = next(
        (c for c in page.context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME), None
    )
    if cookie is None:
        return {}
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=cookie["value"])
    return dict(store.items())


def session_user_id(page) -> str | None:
    """The user the browser's server-side session is signed in as."""
    return server_session(page).get("_auth_user_id")


def test_an_admin_enrols_a_passkey_and_signs_in_with_it_alone(page, screenshot):
    """Issue 15's "done when": enrolled from the account pages, then the sign-in page's
    passkey button alone (no username, no password), with her org requiring a second factor
    of admins: the passkey is both."""
    from playwright.sync_api import expect

    setup = organization_bootstrap(
        org_name="Acme", username="alice", password=ADMIN_PASSWORD, email="alice@acme.example"
    )
    alice = setup.admin
    sign_in(page, "alice", ADMIN_PASSWORD)
    virtual_authenticator(page)

    # -- enrol a passkey from the account pages ---------------------------------------------------
    enrol_passkey(page, password=ADMIN_PASSWORD, name="Alice's laptop", screenshot=screenshot)
    screenshot(page, "recovery-codes")
    row = passkey_list(page).get_by_role("row").filter(has_text="Alice's laptop")
    expect(row).to_contain_text("Passkey")
    screenshot(page, "passkey-listed")
    added = AuditEvent.objects.filter(action="user.factor_added", details__type="webauthn")
    assert [(e.actor_user_id, e.organization_id) for e in added] == [
        (alice.pk, alice.organization_id)
    ]

    # Her org now requires a second factor of its admins: the passkey must be enough.
    security_policy_update(access=Access(user=alice), org=alice.organization, mfa_required="admins")

    # -- sign out, then in with the passkey alone -------------------------------------------------
    sign_out(page)
    expect(page.get_by_label("Username")).to_be_empty()
    screenshot(page, "sign-in")
    page.get_by_role("button", name="Sign in with a passkey").click()
    page.wait_for_url(HOME)
    expect(page.get_by_role("heading", name="Welcome, alice")).to_be_visible()
    screenshot(page, "signed-in-with-passkey")
    session = server_session(page)
    assert session["_auth_user_id"] == str(alice.pk)
    # How: the passkey alone (allauth's record of the sign-in), no password.
    records = session["account_authentication_methods"]
    assert [(r["method"], r["type"], r["passwordless"]) for r in records] == [
        ("mfa", "webauthn", True)
    ]
    # No second factor asked for: the portal's pages and API answer this session.
    open_factors(page)
    expect(page.get_by_role("heading", name="Two-factor authentication")).to_be_visible()
    profile = page.request.get("/accounts/api/profile")
    assert profile.status == 200 and profile.json()["username"] == "alice"


def test_a_passkey_signs_in_only_its_user_and_not_once_removed(page, screenshot):
    """The user a passkey signs in is the one it was made for (its user handle rewritten to
    another user's signs no one in), and a removed passkey, though the browser keeps it,
    signs no one in."""
    from playwright.sync_api import expect

    setup = organization_bootstrap(
        org_name="Acme", username="alice", password=ADMIN_PASSWORD, email="alice@acme.example"
    )
    alice = setup.admin
    bob = UserFactory(organization=alice.organization, username="bob")
    sign_in(page, "alice", ADMIN_PASSWORD)
    virtual_authenticator(page)
    enrol_passkey(page, password=ADMIN_PASSWORD, name="Alice's laptop")
    sign_out(page)

    # -- Alice's passkey, its user handle swapped for Bob's, signs no one in ---------------------
    def as_bob(route, request) -> None:
        if request.method != "POST":
            route.continue_()
            return
        form = dict(parse_qsl(request.post_data))
        credential = json.loads(form["credential"])
        credential["response"]["userHandle"] = _user_handle(bob)
        form["credential"] = json.dumps(credential)
        route.continue_(post_data=urlencode(form))

    page.route(PASSKEY_SIGN_IN, as_bob)
    page.get_by_role("button", name="Sign in with a passkey").click()
    page.wait_for_url(SIGN_IN_PAGE)
    expect(page.get_by_role("status")).to_contain_text("Incorrect code.")
    assert session_user_id(page) is None
    page.unroute(PASSKEY_SIGN_IN)
    # Bob's password still signs Bob in; his session is not Alice's.
    sign_in(page, "bob", DEFAULT_PASSWORD, lands_on=MY_APPS)
    assert session_user_id(page) == str(bob.pk)
    sign_out(page)

    # -- untouched, it signs Alice in -------------------------------------------------------------
    page.get_by_role("button", name="Sign in with a passkey").click()
    page.wait_for_url(HOME)
    assert session_user_id(page) == str(alice.pk)

    # -- removed (after a confirmation), it signs no one in --------------------------------------
    passkey_list(page).get_by_role("row").filter(has_text="Alice's laptop").get_by_role(
        "link", name="Remove"
    ).click()
    # allauth confirms it is her first; her passkey will do.
    page.get_by_role("link", name="Use a security key").click()
    page.get_by_role("button", name="Use a security key").click()
    screenshot(page, "remove-confirm")
    expect(page.get_by_text("Are you sure you want to remove this security key?")).to_be_visible()
    page.get_by_role("button", name="Remove").click()
    page.wait_for_url(re.compile(r"/auth/2fa/webauthn/$"))
    expect(page.get_by_text("No security keys have been added.")).to_be_visible()
    screenshot(page, "removed")
    assert AuditEvent.objects.filter(
        action="user.factor_removed", details__type="webauthn", actor_user=alice
    ).exists()
    sign_out(page)
    page.get_by_role("button", name="Sign in with a passkey").click()  # the browser still has it
    page.wait_for_url(SIGN_IN_PAGE)
    expect(page.get_by_role("status")).to_contain_text("Incorrect code.")
    screenshot(page, "removed-passkey-refused")
    assert session_user_id(page) is None


def _user_handle(user) -> str:
    """The WebAuthn user handle allauth gives `user`'s credentials: their primary key."""
    from allauth.account.utils import user_pk_to_url_str
    from fido2.utils import websafe_encode

    return websafe_encode(user_pk_to_url_str(user).encode())
