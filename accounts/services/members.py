"""An administrator's actions on a member (issue 16): disabling and enabling them, sending
them a password reset, removing them.

One rule decides who may do any of these (`member_administrable`): an Organization
Administrator of the member's root organization, with a session or a `full` token. An app
acting on its own behalf is never an administrator, a token with permission scopes alone
(`manage:users` included) is not `full`, and a business group's administrator holds nothing
in the root organization, so none of them may. Nobody disables, resets or removes themself
here, and the root organization always keeps an enabled administrator.
"""

from __future__ import annotations

import math
import time
from urllib.parse import urlsplit

from allauth.account.adapter import get_adapter
from allauth.account.forms import default_token_generator
from allauth.account.utils import user_email, user_pk_to_url_str, user_username
from allauth.core.context import request_context
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest
from django.urls import reverse

from accounts.access import Access
from accounts.catalog import Role
from accounts.models import Organization, RoleGrant, User
from accounts.services.permissions import _lock_administrators
from accounts.sessions import user_sign_ins_end
from audit.models import AuditAction
from audit.services import RequestMeta, audit_record
from core.cache import counter_incr, redis_optional

MEMBER_ACTIONS_NEED_ADMIN = (
    "Only an Organization Administrator of the root organization (with full access) can "
    "disable, enable, reset the password of or remove members."
)
USER_STATE_NEEDS_ADMIN = MEMBER_ACTIONS_NEED_ADMIN  # the name the disable tests know
LAST_ACTIVE_ADMINISTRATOR = (
    "The organization must keep at least one enabled Organization Administrator."
)


def member_administrable(access: Access, user: User) -> bool:
    """Whether the caller may disable, enable, reset the password of or remove `user`: the
    one rule for all four (pages use it to decide what to offer)."""
    return access.holds_everything_in(_root_of(user))


def _root_of(user: User) -> Organization:
    return Organization.objects.get(id=user.organization_id)


def _require_member_admin(access: Access, user: User) -> Organization:
    """The member's root organization, once the caller is allowed to act on them."""
    root = _root_of(user)
    if not access.holds_everything_in(root):
        raise PermissionDenied(MEMBER_ACTIONS_NEED_ADMIN)
    return root


MEMBER_GONE = "User not found."


def _member_locked(user: User) -> User:
    """`user` re-read and locked for the caller's transaction; a 404 when another
    administrator removed them since the caller read them (a race, not a server error)."""
    locked = User.objects.select_for_update().filter(pk=user.pk).first()
    if locked is None:
        raise Http404(MEMBER_GONE)
    return locked


def _is_caller(access: Access, user: User) -> bool:
    return access.user is not None and access.user.pk == user.pk


def _ensure_an_enabled_administrator_remains(root: Organization, *, field: str) -> None:
    """After the change, in the same transaction: the root org still has an enabled
    administrator. `_lock_administrators` first, so that two administrators acting on each
    other at once cannot both see the other remain."""
    if not RoleGrant.objects.filter(
        organization=root, role=Role.ORGANIZATION_ADMINISTRATOR, user__is_active=True
    ).exists():
        raise ValidationError({field: LAST_ACTIVE_ADMINISTRATOR})


# ---------------------------------------------------------------------------------------------
# Disabling and enabling
# ---------------------------------------------------------------------------------------------
SIGN_INS_END_DISABLED = "user_disabled"
CANNOT_DISABLE_YOURSELF = "You cannot disable your own account."


def user_enabled_set(
    *, access: Access, user: User, enabled: bool, meta: RequestMeta | None = None
) -> User:
    """Disable or enable a member of the caller's root org. A disabled user signs in nowhere:
    their portal sessions end and their platform tokens are revoked at once, and every token
    any app holds for them stops working on the next request (token resolution refuses
    inactive users). Audited; idempotent."""
    root = _require_member_admin(access, user)
    if not enabled and _is_caller(access, user):
        raise ValidationError({"enabled": CANNOT_DISABLE_YOURSELF})
    with transaction.atomic():
        if not enabled:
            _lock_administrators(root)
        locked = _member_locked(user)
        if locked.is_active == enabled:
            return locked
        locked.is_active = enabled
        locked.save(update_fields=["is_active"])
        if not enabled:
            _ensure_an_enabled_administrator_remains(root, field="enabled")
        audit_record(
            action=AuditAction.USER_ENABLED if enabled else AuditAction.USER_DISABLED,
            organization=root,
            **access.audit_actor,
            target=locked,
            details={"username": locked.username},
            meta=meta,
        )
        if not enabled:
            user_sign_ins_end(user=locked, reason=SIGN_INS_END_DISABLED)
    return locked


# ---------------------------------------------------------------------------------------------
# Sending a password reset (Keycloak's "Send reset email")
# ---------------------------------------------------------------------------------------------
CANNOT_RESET_YOURSELF = (
    "You cannot send yourself a password reset here: change your password on your account page."
)
RESET_NEEDS_LOCAL_ACCOUNT = (
    "This user signs in through an identity provider of their organization and has no password "
    "to reset."
)
RESET_NEEDS_ENABLED_USER = "This user is disabled: enable them before sending a password reset."
RESET_NEEDS_EMAIL = "This user has no email address to send a password reset to."
PASSWORD_RESETS_PER_USER = 3
PASSWORD_RESET_WINDOW_SECONDS = 3600


class PasswordResetRateLimited(Exception):
    """Too many password resets were sent to this member lately; `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"Password reset emails were sent to this user {PASSWORD_RESETS_PER_USER} times "
            "in the last hour: try again later."
        )
        self.retry_after = retry_after


def password_reset_problem(user: User) -> str | None:
    """Why `user` cannot be sent a password reset, or None. Accounts without a usable
    password sign in through an identity provider, whose assertions may set the email:
    a reset link sent there would hand the account to whoever runs that provider (the same
    rule as allauth's own reset form here, accounts.forms.ResetPasswordForm)."""
    if not user.has_usable_password():
        return RESET_NEEDS_LOCAL_ACCOUNT
    if not user.is_active:
        return RESET_NEEDS_ENABLED_USER
    if not user_email(user):
        return RESET_NEEDS_EMAIL
    return None


def user_password_reset_send(
    *, access: Access, user: User, meta: RequestMeta | None = None
) -> None:
    """Email `user` allauth's password-reset link (its key: single use, expiring after
    PASSWORD_RESET_TIMEOUT) at their own address. The caller never sees the link: it is in
    no answer and no audit event, and it is built on DOORMAN_BASE_URL, never on the Host the
    caller sent. At most PASSWORD_RESETS_PER_USER emails per member an hour, whoever sends
    them. Audited (`user.password_reset_sent`)."""
    root = _require_member_admin(access, user)
    if _is_caller(access, user):
        raise ValidationError(CANNOT_RESET_YOURSELF)
    with transaction.atomic():
        locked = _member_locked(user)
        problem = password_reset_problem(locked)
        if problem:
            raise ValidationError(problem)
        _password_reset_count(locked)
        audit_record(
            action=AuditAction.USER_PASSWORD_RESET_SENT,
            organization=root,
            **access.audit_actor,
            target=locked,
            details={"username": locked.username},
            meta=meta,
        )
        _password_reset_mail_send(locked)


def _password_reset_count(user: User) -> None:
    now = time.time()
    window = int(now // PASSWORD_RESET_WINDOW_SECONDS) * PASSWORD_RESET_WINDOW_SECONDS
    key = f"password-reset-sent:{user.pk}:{window}"
    # Redis away: the limit is lenient for a moment (only administrators send these), never
    # a failed request.
    sent = redis_optional(lambda: counter_incr(key, PASSWORD_RESET_WINDOW_SECONDS + 1), 0)
    if sent > PASSWORD_RESETS_PER_USER:
        raise PasswordResetRateLimited(
            max(1, math.ceil(window + PASSWORD_RESET_WINDOW_SECONDS - now))
        )


class _BaseUrlRequest(HttpRequest):
    """What allauth's mail takes from a request (its absolute links, the site's name and
    domain), answered from DOORMAN_BASE_URL: a Host header the administrator chose must not
    decide where the member's key is sent."""

    def __init__(self) -> None:
        super().__init__()
        parts = urlsplit(settings.DOORMAN_BASE_URL)
        self._base_scheme, self._base_host = parts.scheme, parts.netloc

    def _get_scheme(self) -> str:
        return self._base_scheme

    @property
    def scheme(self) -> str:
        return self._base_scheme

    def get_host(self) -> str:
        return self._base_host


def _password_reset_mail_send(user: User) -> None:
    """allauth's reset key and email (what its "forgot password" page sends), for `user`."""
    request = _BaseUrlRequest()
    with request_context(request):
        adapter = get_adapter(request)
        uid = user_pk_to_url_str(user)
        temp_key = default_token_generator.make_token(user)
        path = reverse("account_reset_password_from_key", kwargs={"uidb36": uid, "key": temp_key})
        context = {
            "user": user,
            "password_reset_url": settings.DOORMAN_BASE_URL + path,
            "uid": uid,
            "key": temp_key,
            "request": request,
            "username": user_username(user),
        }
        adapter.send_password_reset_mail(user, user_email(user), context)


# ---------------------------------------------------------------------------------------------
# Removing a member (Keycloak's and Auth0's "Delete user")
# ---------------------------------------------------------------------------------------------
CANNOT_REMOVE_YOURSELF = "You cannot remove your own account."
SIGN_INS_END_REMOVED = "user_removed"


def user_remove(*, access: Access, user: User, meta: RequestMeta | None = None) -> None:
    """Delete a member of the caller's root org, all or nothing. What was theirs goes with
    them in the same transaction: portal sessions, platform tokens and every token any app
    holds for them (refused on the next request: the token's row is gone), refresh tokens,
    authorization codes, consents to apps, permissions and roles, sign-in factors, links to
    identity providers. Apps they created stay with the org or BG that owns them. The audit
    event keeps the username; earlier events keep theirs (audit rows have no constraint on
    the user). The root org keeps an enabled administrator."""
    root = _require_member_admin(access, user)
    if _is_caller(access, user):
        raise ValidationError(CANNOT_REMOVE_YOURSELF)
    with transaction.atomic():
        _lock_administrators(root)
        locked = _member_locked(user)
        audit_record(
            action=AuditAction.USER_REMOVED,
            organization=root,
            **access.audit_actor,
            target=locked,
            details={"username": locked.username},
            meta=meta,
        )
        user_sign_ins_end(user=locked, reason=SIGN_INS_END_REMOVED)
        locked.delete()
        _ensure_an_enabled_administrator_remains(root, field="user")
