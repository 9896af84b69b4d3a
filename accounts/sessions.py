"""Portal sessions stored under a digest of their key, and ending a user's sign-ins.

Django's database store keeps `session_key` as the cookie sends it, so every row of a database
copy works as a cookie (issue 12). `SessionStore` (`SESSION_ENGINE`), built at Django's seam
for extending database-backed session engines, keeps only the SHA-256 digest of the key in
accounts.models.PortalSession, with the signed-in user's id. The cookie carries the key. Keys
are 256-bit random values, so a fast unkeyed digest is the right tool, as for tokens
(oauth.principals.token_checksum): nothing about the key can be learnt or guessed from it.

A new password ends every session and platform token of its user (SPEC §4, §10), whatever
path set it: `PasswordChangeEndsSignIns`. The session that changed the password stays signed
in, because Django's `update_session_auth_hash` (which allauth's change and set pages call)
saves it again under a fresh key; a reset keeps nothing.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, load_backend
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import constant_time_compare, get_random_string
from django.utils.functional import SimpleLazyObject

from accounts.models import PortalSession, User
from accounts.signals import sign_ins_ended

# 50 characters of [a-z0-9]: 258 bits.
SESSION_KEY_LENGTH = 50
SIGN_INS_END_HELP = (
    "Changing your password signs you out everywhere else and revokes your platform tokens."
)
SIGN_INS_END_PASSWORD_CHANGED = "password_changed"  # noqa: S105 (a reason, not a password)


def session_key_digest(session_key: str) -> str:
    """What PortalSession.session_key holds for the cookie value `session_key`."""
    return hashlib.sha256(session_key.encode("utf-8")).hexdigest()


def _signed_in_user_id(data: dict[str, Any]) -> uuid.UUID | None:
    value = data.get(SESSION_KEY)
    if value is None:
        return None
    try:
        return User._meta.pk.to_python(value)
    except ValidationError:
        return None


class SessionStore(DatabaseSessionStore):
    """Django's database store, with every row found and written by the key's digest.

    Every method of the parent that names a row by key is overridden here (load, exists,
    save through create_model_instance, delete, each in its sync and async form); create,
    cycle_key and flush go through them.
    """

    row_user: User | None = None  # the user the loaded row names, read with it

    @classmethod
    def get_model_class(cls) -> type[PortalSession]:
        return PortalSession

    def _get_new_session_key(self) -> str:
        # No lookup first: a collision fails create()'s insert, which then draws again.
        return get_random_string(SESSION_KEY_LENGTH, VALID_KEY_CHARS)

    async def _aget_new_session_key(self) -> str:
        return self._get_new_session_key()

    def _rows(self, session_key: str) -> QuerySet[PortalSession]:
        return self.model.objects.filter(session_key=session_key_digest(session_key))

    def _get_session_from_db(self) -> PortalSession | None:
        """The live row, read with the user it names (one statement), which
        `SessionUserMiddleware` signs the request in as instead of reading them again."""
        try:
            row = (
                self._rows(self.session_key)
                .select_related("user")
                .get(expire_date__gt=timezone.now())
            )
        except self.model.DoesNotExist:
            self._session_key = None
            return None
        self.row_user = row.user
        return row

    async def _aget_session_from_db(self) -> PortalSession | None:
        try:
            return await self._rows(self.session_key).aget(expire_date__gt=timezone.now())
        except self.model.DoesNotExist:
            self._session_key = None
            return None

    def exists(self, session_key: str) -> bool:
        return self._rows(session_key).exists()

    async def aexists(self, session_key: str) -> bool:
        return await self._rows(session_key).aexists()

    def create_model_instance(self, data: dict[str, Any]) -> PortalSession:
        return self.model(
            session_key=session_key_digest(self._get_or_create_session_key()),
            session_data=self.encode(data),
            expire_date=self.get_expiry_date(),
            user_id=_signed_in_user_id(data),
        )

    async def acreate_model_instance(self, data: dict[str, Any]) -> PortalSession:
        return self.model(
            session_key=session_key_digest(await self._aget_or_create_session_key()),
            session_data=self.encode(data),
            expire_date=await self.aget_expiry_date(),
            user_id=_signed_in_user_id(data),
        )

    def delete(self, session_key: str | None = None) -> None:
        session_key = self.session_key if session_key is None else session_key
        if session_key is not None:
            self._rows(session_key).delete()

    async def adelete(self, session_key: str | None = None) -> None:
        session_key = self.session_key if session_key is None else session_key
        if session_key is not None:
            await self._rows(session_key).adelete()


def user_sign_ins_end(*, user: User, reason: str) -> int:
    """End every portal session of `user` and, through `sign_ins_ended`, whatever else they
    are signed in with (oauth revokes their platform tokens), in one transaction. A session
    ended here is signed out on its next request. Returns how many sessions were ended."""
    with transaction.atomic():
        ended, _ = PortalSession.objects.filter(user=user).delete()
        sign_ins_ended.send(sender=User, user=user, reason=reason)
    return ended


class PasswordChangeEndsSignIns:
    """Not a rule for passwords: Django calls the `password_changed` of every entry of
    AUTH_PASSWORD_VALIDATORS after it saves a new password, whatever path set it (allauth's
    change, set and reset pages, `manage.py bootstrap` and `changepassword`), but not after
    it upgrades a hash. That makes it the one place where a new password shuts out every
    sign-in the old one opened. Its help text, shown with the password rules, says so."""

    def validate(self, password: str, user: Any = None) -> None:
        return None

    def password_changed(self, password: str, user: Any = None) -> None:
        if user is not None and user.pk is not None:
            user_sign_ins_end(user=user, reason=SIGN_INS_END_PASSWORD_CHANGED)

    def get_help_text(self) -> str:
        return SIGN_INS_END_HELP


# -- the signed-in user, read with the session ---------------------------------------------------
def session_user(request: HttpRequest) -> AbstractBaseUser | AnonymousUser:
    """Django's `auth.get_user(request)`, rule for rule, except that a user the session's
    backend would load by primary key (ModelBackend's `get_user`, which allauth's backend
    keeps) is the one `SessionStore` read with the session row, not read a second time.

    As Django does: the session must name a backend still in AUTHENTICATION_BACKENDS; the
    user must still be able to authenticate (active); the session's password hash must match
    the user's (else, unless a fallback secret key matches, the session is flushed)."""
    user = None
    try:
        user_id = User._meta.pk.to_python(request.session[SESSION_KEY])
        backend_path = request.session[BACKEND_SESSION_KEY]
    except KeyError:
        pass
    else:
        if backend_path in settings.AUTHENTICATION_BACKENDS:
            backend = load_backend(backend_path)
            user = _row_user(request, backend, user_id)
            if user is _NOT_READ:
                user = backend.get_user(user_id)
            if hasattr(user, "get_session_auth_hash"):
                user = _session_hash_verified(request, user)
    return user or AnonymousUser()


_NOT_READ = object()


def _row_user(request: HttpRequest, backend: object, user_id: object) -> object:
    """The user read with the session row when it is the one `backend.get_user(user_id)`
    would return (None when that user may not authenticate); else `_NOT_READ`."""
    row_user = getattr(request.session, "row_user", None)
    if (
        row_user is None
        or not isinstance(backend, ModelBackend)
        or type(backend).get_user is not ModelBackend.get_user
        or row_user.pk != user_id
    ):
        return _NOT_READ
    return row_user if backend.user_can_authenticate(row_user) else None


def _session_hash_verified(request: HttpRequest, user: AbstractBaseUser) -> AbstractBaseUser | None:
    """Django's check that the session was signed in with the user's current password."""
    session_hash = request.session.get(HASH_SESSION_KEY)
    session_auth_hash = user.get_session_auth_hash()
    if session_hash and constant_time_compare(session_hash, session_auth_hash):
        return user
    if session_hash and any(
        constant_time_compare(session_hash, fallback)
        for fallback in user.get_session_auth_fallback_hash()
    ):
        request.session.cycle_key()
        request.session[HASH_SESSION_KEY] = session_auth_hash
        return user
    request.session.flush()
    return None


class SessionUserMiddleware(AuthenticationMiddleware):
    """Django's AuthenticationMiddleware, signing the request in with `session_user`."""

    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: _cached_session_user(request))


def _cached_session_user(request: HttpRequest) -> AbstractBaseUser | AnonymousUser:
    if not hasattr(request, "_cached_user"):
        request._cached_user = session_user(request)
    return request._cached_user
