"""Portal sessions under a digest of their key (accounts.sessions), and a new password ending
every sign-in of its user (sessions here, platform tokens through oauth)."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from accounts.models import PortalSession
from accounts.services import organization_bootstrap
from accounts.sessions import (
    SESSION_KEY_LENGTH,
    SIGN_INS_END_HELP,
    SIGN_INS_END_PASSWORD_CHANGED,
    SessionStore,
    session_key_digest,
    user_sign_ins_end,
)
from accounts.tasks import portal_sessions_purge_expired
from audit.models import AuditAction, AuditEvent
from oauth.models import AccessToken
from oauth.services import platform_tokens_revoke
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.oauth.tokenkit import (
    LOGIN_URL,
    bearer_profile,
    isolated_throttle,  # noqa: F401 (autouse fixture)
    post_json,
)

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-fresh-Passphrase-for-2025"


def stored(data: dict | None = None) -> SessionStore:
    session = SessionStore()
    session.update(data or {"colour": "teal"})
    session.save()
    return session


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def cookie_of(client: Client) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def platform_token(user) -> str:
    response = post_json({"username": user.username, "password": DEFAULT_PASSWORD}, url=LOGIN_URL)
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


# -- the store ----------------------------------------------------------------------------------
def test_the_row_holds_the_digest_of_the_key_never_the_key():
    session = stored()
    key = session.session_key
    assert len(key) == SESSION_KEY_LENGTH
    (row,) = PortalSession.objects.all()
    assert row.session_key == session_key_digest(key)
    assert key not in row.session_key + row.session_data
    assert SessionStore(key)["colour"] == "teal"
    assert SessionStore(key).exists(key)


def test_the_stored_value_is_not_a_key():
    stored()
    digest = PortalSession.objects.get().session_key
    assert not SessionStore(digest).exists(digest)
    found = SessionStore(digest)
    assert found.get("colour") is None
    assert found.session_key is None  # unknown: a new key is drawn if anything is saved


def test_an_expired_session_is_not_loaded():
    session = stored()
    PortalSession.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    assert SessionStore(session.session_key).get("colour") is None


def test_delete_and_cycle_key_work_by_digest():
    session = stored()
    old_key = session.session_key
    session.cycle_key()
    assert session.session_key != old_key
    assert not SessionStore().exists(old_key)
    assert SessionStore(session.session_key)["colour"] == "teal"
    session.delete()
    assert not PortalSession.objects.exists()


def test_the_signed_in_user_is_stored_with_the_session(member):
    client = signed_in(member)
    row = PortalSession.objects.get()
    assert row.user_id == member.pk
    assert row.session_key == session_key_digest(cookie_of(client))
    assert client.get("/accounts/api/profile").json()["username"] == member.username
    assert stored().session_key and PortalSession.objects.filter(user=None).count() == 1


def test_an_unreadable_user_id_is_stored_as_none():
    stored({SESSION_KEY: "not-a-uuid"})
    assert PortalSession.objects.get().user_id is None


# -- the signed-in user, read with the session row ---------------------------------------------
PROFILE_URL = "/accounts/api/profile"


def test_the_user_is_read_with_the_session_in_one_statement(member):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = signed_in(member)
    with CaptureQueriesContext(connection) as captured:
        assert client.get(PROFILE_URL).json()["username"] == member.username
    reads = [q["sql"] for q in captured.captured_queries if "accounts_user" in q["sql"]]
    assert len(reads) == 1 and "accounts_portalsession" in reads[0], reads


def test_a_deactivated_user_is_signed_out_on_the_next_request(member):
    client = signed_in(member)
    type(member).objects.filter(pk=member.pk).update(is_active=False)
    assert client.get(PROFILE_URL).status_code == 401


def test_a_password_changed_behind_the_sessions_back_signs_it_out(member):
    """Even when nothing deleted the session row (a raw update), the session's password
    hash no longer matches, so it is flushed, as Django's get_user does."""
    client = signed_in(member)
    type(member).objects.filter(pk=member.pk).update(password="pbkdf2_sha256$1$x$y")
    assert client.get(PROFILE_URL).status_code == 401
    assert not PortalSession.objects.filter(user=member).exists()


def test_a_row_naming_another_user_than_its_data_signs_in_the_datas_user(member, admin):
    """The row's user column is only a shortcut: the session data says who is signed in."""
    client = signed_in(member)
    PortalSession.objects.update(user=admin)
    assert client.get(PROFILE_URL).json()["username"] == member.username


def test_the_async_methods_work_by_digest():
    session = SessionStore()
    session["colour"] = "teal"
    async_to_sync(session.asave)()
    key = session.session_key
    assert PortalSession.objects.get().session_key == session_key_digest(key)
    assert async_to_sync(SessionStore(key).aexists)(key)
    assert async_to_sync(SessionStore(key).aget)("colour") == "teal"
    async_to_sync(SessionStore(key).adelete)()
    assert not PortalSession.objects.exists()


def test_clearsessions_and_the_purge_task_delete_expired_sessions_only():
    live, expired, also_expired = stored(), stored(), stored()
    PortalSession.objects.exclude(session_key=session_key_digest(live.session_key)).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    assert portal_sessions_purge_expired() == {"portal_sessions": 2}
    assert SessionStore(live.session_key)["colour"] == "teal"
    PortalSession.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    call_command("clearsessions", stdout=StringIO())
    assert not PortalSession.objects.exists()
    assert expired.session_key != also_expired.session_key


def test_deleting_a_user_deletes_their_sessions(member):
    signed_in(member)
    member.delete()
    assert not PortalSession.objects.exists()


# -- ending a user's sign-ins -------------------------------------------------------------------
def test_ending_sign_ins_ends_sessions_and_platform_tokens_of_that_user_only(member, admin):
    first, second, bystander = signed_in(member), signed_in(member), signed_in(admin)
    token, bystander_token = platform_token(member), platform_token(admin)
    assert bearer_profile(token).status_code == 200  # remembered by this worker

    assert user_sign_ins_end(user=member, reason=SIGN_INS_END_PASSWORD_CHANGED) == 2

    assert first.get("/accounts/api/profile").status_code == 401
    assert second.get("/accounts/api/profile").status_code == 401
    assert bearer_profile(token).status_code == 401
    assert bystander.get("/accounts/api/profile").status_code == 200
    assert bearer_profile(bystander_token).status_code == 200
    event = AuditEvent.objects.get(action=AuditAction.TOKEN_REVOKED)
    assert event.actor_user_id == member.pk
    assert event.details == {
        "reason": "password_changed",
        "grant_type": "password",
        "access_tokens_revoked": 1,
    }
    assert token not in str(event.__dict__)


def test_platform_token_revocation_leaves_the_users_app_tokens(member, make_app):
    app = make_app().app
    kept = AccessToken.objects.create(
        user=member, application=app, token="x" * 40, expires=timezone.now() + timedelta(hours=1)
    )
    platform_token(member)
    assert platform_tokens_revoke(user=member, reason="test") == 1
    assert list(AccessToken.objects.values_list("pk", flat=True)) == [kept.pk]
    assert platform_tokens_revoke(user=member, reason="test") == 0
    assert AuditEvent.objects.filter(action=AuditAction.TOKEN_REVOKED).count() == 1


def test_tokens_the_password_grant_issued_go_too(member, make_app):
    """Whoever knew the old password may have used the password grant: its families end."""
    from tests.factories import DEFAULT_PASSWORD
    from tests.oauth.tokenkit import post_form

    robot = make_app(grant_types=["password", "refresh_token"], redirect_uris=[])
    issued = post_form(
        {
            "grant_type": "password",
            "username": member.username,
            "password": DEFAULT_PASSWORD,
            "scope": "profile",
            "client_id": robot.app.client_id,
            "client_secret": robot.client_secret,
        }
    ).json()
    assert bearer_profile(issued["access_token"]).status_code == 200
    assert platform_tokens_revoke(user=member, reason="test") == 1
    assert bearer_profile(issued["access_token"]).status_code == 401
    refreshed = post_form(
        {
            "grant_type": "refresh_token",
            "refresh_token": issued["refresh_token"],
            "client_id": robot.app.client_id,
            "client_secret": robot.client_secret,
        }
    )
    assert refreshed.status_code == 400


def test_a_new_password_set_anywhere_ends_every_sign_in(member):
    client, token = signed_in(member), platform_token(member)
    member.set_password(NEW_PASSWORD)  # what `manage.py changepassword` does
    member.save()
    assert client.get("/accounts/api/profile").status_code == 401
    assert not PortalSession.objects.filter(user=member).exists()
    assert bearer_profile(token).status_code == 401


def test_a_hash_upgrade_is_not_a_password_change(member, settings):
    signed_in(member)
    token = platform_token(member)
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        *settings.PASSWORD_HASHERS,
    ]
    assert member.check_password(DEFAULT_PASSWORD)  # re-hashed and saved
    assert member.password.startswith("pbkdf2_sha256$")
    # (Django's session auth hash changes with the stored hash, so that session is signed
    # out by Django on its next request, as without this store; its row is not ended here.)
    assert PortalSession.objects.filter(user=member).exists()
    assert bearer_profile(token).status_code == 200


def test_a_new_user_revokes_nothing(org):
    UserFactory(organization=org)
    assert not AuditEvent.objects.filter(action=AuditAction.TOKEN_REVOKED).exists()


def test_the_password_pages_say_what_a_new_password_does(member):
    page = signed_in(member).get("/auth/password/change/")
    assert SIGN_INS_END_HELP in page.content.decode()


def test_the_password_change_page_keeps_the_changing_session_only(member):
    changing, other = signed_in(member), signed_in(member)
    token = platform_token(member)
    response = changing.post(
        "/auth/password/change/",
        {"oldpassword": DEFAULT_PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302, response.content
    assert changing.get("/accounts/api/profile").status_code == 200
    assert other.get("/accounts/api/profile").status_code == 401
    assert list(PortalSession.objects.values_list("session_key", flat=True)) == [
        session_key_digest(cookie_of(changing))
    ]
    assert bearer_profile(token).status_code == 401


# -- bootstrap re-runs ----------------------------------------------------------------------------
def test_rerunning_bootstrap_with_the_same_password_keeps_the_admins_sign_ins(db):
    values = {"org_name": "Initech", "username": "root", "email": "root@initech.example"}
    admin = organization_bootstrap(password=DEFAULT_PASSWORD, **values).admin
    client, token = signed_in(admin), platform_token(admin)

    organization_bootstrap(password=DEFAULT_PASSWORD, **values)
    assert client.get("/accounts/api/profile").status_code == 200
    assert bearer_profile(token).status_code == 200

    organization_bootstrap(password=NEW_PASSWORD, **values)
    assert client.get("/accounts/api/profile").status_code == 401
    assert bearer_profile(token).status_code == 401
