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

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.crypto import get_random_string

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
        try:
            return self._rows(self.session_key).get(expire_date__gt=timezone.now())
        except self.model.DoesNotExist:
            self._session_key = None
            return None

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
