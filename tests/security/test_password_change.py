"""Attack: a stolen credential outlives the password change meant to shut it out (issue 12
item 6, SPEC §4 `POST /accounts/login`, §10).

The attacker holds a platform token (`POST /accounts/login` with a phished password) and a
portal session of the victim. The victim changes their password through the portal, or resets
it by email. Afterwards the platform token is refused by the API and inactive in
introspection, and the attacker's portal session is signed out and gone from the session
table; a change keeps the victim's own session signed in, a reset ends every session.
"""

from __future__ import annotations

import re

import pytest
import requests
from django.conf import settings

from accounts.models import PortalSession
from accounts.sessions import session_key_digest
from tests.factories import DEFAULT_PASSWORD
from tests.oauth.test_token_e2e import submit_form
from tests.security.test_session_dump import portal_sign_in

pytestmark = pytest.mark.django_db(transaction=True)

NEW_PASSWORD = "a-fresh-Passphrase-for-2025"
CHANGE_PATH = "/auth/password/change/"
RESET_PATH = "/auth/password/reset/"


@pytest.fixture
def stolen(http, urls, member, cc_app):
    """What the attacker holds: a platform token and a portal session of `member`."""
    response = http().post(
        urls["login"], json={"username": member.username, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    session = portal_sign_in(http(), urls["base"], member.username)
    session_key = session.cookies[settings.SESSION_COOKIE_NAME]
    assert PortalSession.objects.filter(session_key=session_key_digest(session_key)).exists()
    assert bearer(http(), urls, token).status_code == 200
    assert introspect(http(), urls, cc_app, token)["active"] is True
    assert session.get(urls["profile"]).status_code == 200
    return token, session


def bearer(http: requests.Session, urls: dict, token: str) -> requests.Response:
    return http.get(urls["profile"], headers={"Authorization": f"Bearer {token}"})


def introspect(http: requests.Session, urls: dict, app, token: str) -> dict:
    response = http.post(
        urls["introspect"],
        data={"token": token},
        auth=(app.app.client_id, app.client_secret),
    )
    assert response.status_code == 200, response.text
    return response.json()


def assert_shut_out(http, urls, cc_app, stolen) -> None:
    token, session = stolen
    attacker_key = session.cookies[settings.SESSION_COOKIE_NAME]
    refused = bearer(http(), urls, token)
    assert refused.status_code == 401, refused.status_code
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
    assert introspect(http(), urls, cc_app, token) == {"active": False}
    assert not PortalSession.objects.filter(session_key=session_key_digest(attacker_key)).exists()
    assert session.get(urls["profile"]).status_code == 401


def test_a_password_change_shuts_the_attacker_out(http, urls, member, cc_app, stolen):
    victim = portal_sign_in(http(), urls["base"], member.username)
    page = victim.get(urls["base"] + CHANGE_PATH)
    assert page.status_code == 200, page.status_code
    changed = submit_form(
        victim,
        page,
        "oldpassword",
        oldpassword=DEFAULT_PASSWORD,
        password1=NEW_PASSWORD,
        password2=NEW_PASSWORD,
    )
    assert changed.status_code == 302, changed.text

    assert_shut_out(http, urls, cc_app, stolen)
    assert victim.get(urls["profile"]).json()["username"] == member.username
    assert PortalSession.objects.filter(user=member).count() == 1


def test_a_password_reset_shuts_everyone_out(http, urls, member, cc_app, stolen, mailoutbox):
    signed_in_elsewhere = portal_sign_in(http(), urls["base"], member.username)
    browser = http()
    page = browser.get(urls["base"] + RESET_PATH)
    requested = submit_form(browser, page, "email", email=member.email)
    assert requested.status_code == 302, requested.text
    (mail,) = mailoutbox
    link = re.search(r"http://\S+/auth/password/reset/key/\S+/", mail.body).group(0)
    form_page = browser.get(link)  # allauth moves the key into the session and redirects
    assert form_page.status_code == 200, form_page.status_code
    reset = submit_form(
        browser, form_page, "password1", password1=NEW_PASSWORD, password2=NEW_PASSWORD
    )
    assert reset.status_code == 302, reset.text

    assert_shut_out(http, urls, cc_app, stolen)
    assert signed_in_elsewhere.get(urls["profile"]).status_code == 401
    assert not PortalSession.objects.filter(user=member).exists()
    response = http().post(
        urls["login"], json={"username": member.username, "password": NEW_PASSWORD}
    )
    assert response.status_code == 200, "the new password works"
