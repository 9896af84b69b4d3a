"""An administrator sends a member allauth's password-reset email (issue 16), as Keycloak's
"Send reset email": `POST …/users/{userId}/passwordReset` → 204 and the portal's "Send
password reset email". The link is allauth's (single use, expiring), goes only to the member's
own address and is never shown, answered or recorded to the administrator."""

from __future__ import annotations

import json
import re

import pytest
from django.conf import settings
from django.test import Client

from accounts.services import (
    CANNOT_RESET_YOURSELF,
    PASSWORD_RESETS_PER_USER,
    RESET_NEEDS_ENABLED_USER,
    RESET_NEEDS_LOCAL_ACCOUNT,
)
from audit.models import AuditEvent
from tests.accounts.member_admin_kit import (
    business_group_admin,
    own_behalf_app,
    portal_url,
    signed_in,
    token_headers,
    user_app,
    user_url,
    users_manager,
)
from tests.factories import AdminRoleFactory, UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-fresh-Passphrase-for-2025"
LINK = re.compile(r"https?://\S+/auth/password/reset/key/\S+/")


def reset_url(org, user) -> str:
    return user_url(org, user) + "/passwordReset"


def links_in(mailoutbox) -> list[str]:
    return [link for message in mailoutbox for link in LINK.findall(message.body)]


def test_an_admin_sends_a_reset_that_only_the_member_can_use(
    client_for, admin, member, org, mailoutbox
):
    response = client_for(admin).post(reset_url(org, member))
    assert response.status_code == 204, response.content
    assert response.content == b""  # nothing of the link comes back
    (mail,) = mailoutbox
    assert mail.to == [member.email]
    (link,) = links_in(mailoutbox)
    assert link.startswith(settings.DOORMAN_BASE_URL + "/auth/password/reset/key/")
    event = AuditEvent.objects.get(action="user.password_reset_sent")
    assert event.target_id == str(member.id)
    assert event.actor_user_id == admin.id
    assert event.details == {"username": member.username}
    key = link.rstrip("/").rsplit("/", 1)[1]
    assert key not in json.dumps(event.details)

    # The member follows allauth's link and sets a password; the link then works no more.
    browser = Client()
    path = link.removeprefix(settings.DOORMAN_BASE_URL)
    form = browser.get(path, follow=True)
    assert form.status_code == 200
    set_password_path = form.redirect_chain[-1][0]
    done = browser.post(set_password_path, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert done.status_code == 302, done.content
    member.refresh_from_db()
    assert member.check_password(NEW_PASSWORD)
    again = browser.get(path, follow=True).content.decode()
    assert 'name="password1"' not in again


def test_the_link_never_takes_its_host_from_the_admins_request(
    client_for, admin, member, org, mailoutbox
):
    """A Host header the administrator chose must not put the member's key on their server."""
    client = client_for(admin)
    assert client.post(reset_url(org, member), HTTP_HOST="localhost").status_code == 204
    (link,) = links_in(mailoutbox)
    assert link.startswith(settings.DOORMAN_BASE_URL + "/")


def test_nobody_resets_their_own_password_here(client_for, admin, org, mailoutbox):
    response = client_for(admin).post(reset_url(org, admin))
    assert response.status_code == 400
    assert response.json()["message"] == CANNOT_RESET_YOURSELF
    assert mailoutbox == []


def test_an_sso_member_without_a_password_gets_none(client_for, admin, member, org, mailoutbox):
    member.set_unusable_password()
    member.save(update_fields=["password"])
    response = client_for(admin).post(reset_url(org, member))
    assert response.status_code == 400
    assert response.json()["message"] == RESET_NEEDS_LOCAL_ACCOUNT
    assert mailoutbox == []
    assert not AuditEvent.objects.filter(action="user.password_reset_sent").exists()


def test_a_disabled_member_gets_none(client_for, admin, member, org, mailoutbox):
    member.is_active = False
    member.save(update_fields=["is_active"])
    response = client_for(admin).post(reset_url(org, member))
    assert response.status_code == 400
    assert response.json()["message"] == RESET_NEEDS_ENABLED_USER
    assert mailoutbox == []


def test_resets_for_one_member_are_limited(client_for, admin, member, org, mailoutbox):
    second = UserFactory(organization=org, username="second-admin")
    AdminRoleFactory(user=second, organization=org)
    for sender in [admin, second] * PASSWORD_RESETS_PER_USER:
        client_for(sender).post(reset_url(org, member))
    assert len(mailoutbox) == PASSWORD_RESETS_PER_USER
    limited = client_for(admin).post(reset_url(org, member))
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0
    other = UserFactory(organization=org, username="other-member")
    assert client_for(admin).post(reset_url(org, other)).status_code == 204


# -- who may not --------------------------------------------------------------------------------
def test_a_users_manager_cannot_send_one(client_for, org, member, mailoutbox):
    response = client_for(users_manager(org)).post(reset_url(org, member))
    assert response.status_code == 403
    assert mailoutbox == []


def test_a_business_group_admin_cannot_reset_anyone(client_for, admin, member, org, mailoutbox):
    team, team_admin = business_group_admin(org)
    team_member = UserFactory(organization=org, username="team-member")
    for target, where in ((admin, org), (admin, team), (team_member, team), (member, team)):
        response = client_for(team_admin).post(reset_url(where, target))
        assert response.status_code in (403, 404), (target, where, response.status_code)
    assert mailoutbox == []


def test_another_tenant_cannot_reach_a_member(client_for, other_admin, member, org, mailoutbox):
    assert client_for(other_admin).post(reset_url(org, member)).status_code in (403, 404)
    assert mailoutbox == []


def test_tokens_without_full_access_cannot_send_one(admin, member, org, mailoutbox):
    app = user_app(admin, org, ["read:users", "manage:users"])
    for scope in ("read:users", "read:users manage:users"):
        headers = token_headers(user=admin, app=app, scope=scope)
        response = Client().post(reset_url(org, member), **headers)
        assert response.status_code == 403, (scope, response.content)
        assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    robot = own_behalf_app(admin, org, ["read:users", "manage:users"])
    headers = token_headers(user=None, app=robot, scope="read:users manage:users")
    assert Client().post(reset_url(org, member), **headers).status_code == 403
    assert mailoutbox == []
    headers = token_headers(user=admin, app=None, scope="full")  # the admin's platform token
    assert Client().post(reset_url(org, member), **headers).status_code == 204


# -- the portal -----------------------------------------------------------------------------------
def test_the_portal_asks_then_sends(admin, member, org, mailoutbox):
    browser = signed_in(admin)
    page = portal_url(org, member)
    assert "Send password reset email" in browser.get(page).content.decode()
    confirm = browser.get(page + "password-reset").content.decode()
    assert member.email in confirm and ">Send password reset email</button>" in confirm
    assert mailoutbox == []  # asking sends nothing
    sent = browser.post(page + "password-reset", follow=True)
    assert sent.redirect_chain[-1][0] == page
    shown = sent.content.decode()
    assert f"A password reset email was sent to {member.username}" in shown
    assert "/auth/password/reset/key/" not in shown
    assert len(mailoutbox) == 1


def test_the_portal_says_why_an_sso_member_gets_no_reset(admin, member, org, mailoutbox):
    member.set_unusable_password()
    member.save(update_fields=["password"])
    browser = signed_in(admin)
    confirm = browser.get(portal_url(org, member) + "password-reset").content.decode()
    assert RESET_NEEDS_LOCAL_ACCOUNT in confirm
    assert ">Send password reset email</button>" not in confirm
    refused = browser.post(portal_url(org, member) + "password-reset", follow=True)
    assert RESET_NEEDS_LOCAL_ACCOUNT in refused.content.decode()
    assert mailoutbox == []


def test_the_portal_offers_nothing_to_a_users_manager(member, org, mailoutbox):
    browser = signed_in(users_manager(org))
    page = portal_url(org, member)
    assert "Send password reset email" not in browser.get(page).content.decode()
    assert browser.get(page + "password-reset").status_code == 403
    assert browser.post(page + "password-reset").status_code == 403
    assert mailoutbox == []


# -- the mail server is away: 503 with Retry-After, nothing recorded, never a 500 -----------------
@pytest.fixture
def mail_server_away(settings):
    """SMTP at a loopback port nobody listens on: every connection is refused."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False


def test_a_mail_server_away_is_a_503_and_records_nothing(mail_server_away, admin, member, org):
    api = Client(raise_request_exception=False)
    api.force_login(admin)
    response = api.post(reset_url(org, member))
    assert response.status_code == 503
    assert response["Retry-After"]
    assert response.json()["error"] == "temporarily_unavailable"
    assert not AuditEvent.objects.filter(action="user.password_reset_sent").exists()

    page = portal_url(org, member)
    shown = signed_in(admin).post(page + "password-reset", follow=True).content.decode()
    assert "The email could not be sent" in shown
    assert not AuditEvent.objects.filter(action="user.password_reset_sent").exists()


def test_forgot_password_with_the_mail_server_away_is_a_503_page(mail_server_away, member):
    response = Client(raise_request_exception=False).post(
        "/auth/password/reset/", {"email": member.email}
    )
    assert response.status_code == 503
    assert response["Retry-After"]
    assert "text/html" in response["Content-Type"]


def test_production_without_a_mail_server_sends_and_prints_nothing(settings, admin, member, org):
    settings.EMAIL_BACKEND = "core.mail.UnconfiguredEmailBackend"
    api = Client(raise_request_exception=False)
    api.force_login(admin)
    assert api.post(reset_url(org, member)).status_code == 503
