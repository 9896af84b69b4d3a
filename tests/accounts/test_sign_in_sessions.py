"""Where a user is signed in (SPEC §11): the user's portal sessions with when and from where
each signed in; ending one, or all (which also revokes the platform tokens); audited."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import PortalSession
from audit.models import AuditEvent
from tests.factories import DEFAULT_PASSWORD
from tests.oauth.tokenkit import (
    LOGIN_URL,
    isolated_throttle,  # noqa: F401 (autouse fixture)
    post_json,
)

pytestmark = pytest.mark.django_db

SESSIONS = "/accounts/api/profile/sessions"
SIGN_IN = "/auth/login/"


def browser_signed_in(user, agent: str) -> Client:
    client = Client(HTTP_USER_AGENT=agent)
    response = client.post(SIGN_IN, {"login": user.username, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    return client


def test_a_user_sees_where_they_are_signed_in_and_ends_one(member, admin):
    laptop = browser_signed_in(member, "Laptop/1.0")
    phone = browser_signed_in(member, "Phone/2.0")
    browser_signed_in(admin, "Admin/1.0")  # someone else's: never listed, never reachable
    listed = laptop.get(SESSIONS).json()
    assert listed["total"] == 2
    agents = {s["user_agent"]: s for s in listed["data"]}
    assert set(agents) == {"Laptop/1.0", "Phone/2.0"}
    assert agents["Laptop/1.0"]["current"] and not agents["Phone/2.0"]["current"]
    assert agents["Phone/2.0"]["ip"] == "127.0.0.1" and agents["Phone/2.0"]["signed_in_at"]
    response = laptop.delete(f"{SESSIONS}/{agents['Phone/2.0']['id']}")
    assert response.status_code == 204
    assert phone.get(SESSIONS).status_code == 401  # signed out
    assert laptop.get(SESSIONS).json()["total"] == 1
    event = AuditEvent.objects.get(action="user.session_ended")
    assert event.actor_user_id == member.pk and event.details == {"sessions": 1}


def test_another_users_session_cannot_be_ended(member, admin):
    admins = browser_signed_in(admin, "Admin/1.0")
    theirs = admins.get(SESSIONS).json()["data"][0]["id"]
    mine = browser_signed_in(member, "Laptop/1.0")
    assert mine.delete(f"{SESSIONS}/{theirs}").status_code == 404
    assert admins.get(SESSIONS).status_code == 200


def test_signing_out_everywhere_ends_every_session_and_the_platform_tokens(member):
    laptop = browser_signed_in(member, "Laptop/1.0")
    phone = browser_signed_in(member, "Phone/2.0")
    token = post_json(
        {"username": member.username, "password": DEFAULT_PASSWORD}, url=LOGIN_URL
    ).json()["access_token"]
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    assert Client().get("/accounts/api/profile", **bearer).status_code == 200
    assert laptop.delete(SESSIONS).status_code == 204
    assert not PortalSession.objects.filter(user=member).exists()
    for client in (laptop, phone):
        assert client.get(SESSIONS).status_code == 401
    assert Client().get("/accounts/api/profile", **bearer).status_code == 401
    event = AuditEvent.objects.get(action="user.session_ended")
    assert event.details == {"sessions": 2, "everywhere": True}


def test_an_app_token_cannot_touch_its_creators_sessions(cc_app, admin):
    from tests.oauth.helpers import bearer, mint_access_token

    browser_signed_in(cc_app.app.user, "Laptop/1.0")
    token = mint_access_token(app=cc_app.app, scope="profile")
    assert Client().get(SESSIONS, **bearer(token)).status_code == 403
    assert Client().delete(SESSIONS, **bearer(token)).status_code == 403
    assert PortalSession.objects.filter(user=cc_app.app.user).exists()


# -- the portal page ---------------------------------------------------------------------------
PAGE = "/account/sessions/"


ANDROID_CHROME = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36"
)


def test_the_page_lists_sessions_and_signs_one_out_after_confirming(member, admin):
    laptop = browser_signed_in(member, "Laptop/1.0")
    phone = browser_signed_in(member, ANDROID_CHROME)
    page = laptop.get(PAGE)
    assert page.status_code == 200
    html = page.content.decode()
    # Each browser by a readable name, its raw user agent behind "Browser details".
    assert "<strong>Chrome Mobile 131 on Android</strong>" in html
    assert 'aria-label="Sign out Chrome Mobile 131 on Android"' in html
    assert "<strong>Unknown browser</strong>" in html and "Laptop/1.0" in html
    assert ANDROID_CHROME in html and "This browser" in html
    phone_id = next(s.id for s in page.context["sessions"] if s.user_agent == ANDROID_CHROME)
    confirm = laptop.get(f"/account/sessions/{phone_id}/end")
    assert confirm.status_code == 200
    assert "Sign out Chrome Mobile 131 on Android?" in confirm.content.decode()
    assert laptop.post(f"/account/sessions/{phone_id}/end").status_code == 302  # unconfirmed
    assert phone.get(SESSIONS).status_code == 200  # nothing ended
    done = laptop.post(f"/account/sessions/{phone_id}/end", {"confirm": "yes"})
    assert done["Location"] == PAGE
    assert phone.get(SESSIONS).status_code == 401
    theirs = browser_signed_in(admin, "Admin/1.0").get(SESSIONS).json()["data"][0]["id"]
    assert laptop.get(f"/account/sessions/{theirs}/end").status_code == 404
    assert laptop.post(f"/account/sessions/{theirs}/end", {"confirm": "yes"}).status_code == 404


def test_signing_out_everywhere_from_the_page(member):
    laptop = browser_signed_in(member, "Laptop/1.0")
    browser_signed_in(member, "Phone/2.0")
    assert laptop.get("/account/sessions/end-all").status_code == 200
    done = laptop.post("/account/sessions/end-all", {"confirm": "yes"})
    assert done["Location"] == "/auth/login/"
    assert not PortalSession.objects.filter(user=member).exists()
