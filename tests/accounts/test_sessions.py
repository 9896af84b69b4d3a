"""Portal sessions under a digest of their key (accounts.sessions)."""

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
from accounts.sessions import (
    SESSION_KEY_LENGTH,
    SessionStore,
    session_key_digest,
)
from accounts.tasks import portal_sessions_purge_expired

pytestmark = pytest.mark.django_db


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
