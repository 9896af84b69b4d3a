"""Second factors (SPEC §11): which of a user's django-allauth authenticators count as one,
and the rule that a password alone never signs in a user who has one.

A TOTP device or a WebAuthn key (security key or passkey) is a second factor; recovery codes
only stand in for one. The flows that take a password and nothing else (`POST /accounts/login`,
the password grant) cannot ask for it, so for a user who has one, or whom their org's policy
requires to use one (accounts.security_policy), they answer `interaction_required`, naming the
browser sign-in, never a token (as Keycloak and Auth0 do).
"""

from __future__ import annotations

from allauth.mfa import signals
from allauth.mfa.models import Authenticator

from accounts.security_policy import POLICY_NOT_READ, mfa_required_for
from audit.models import AuditAction
from audit.services import RequestMeta, audit_record

SECOND_FACTOR_TYPES = (Authenticator.Type.TOTP.value, Authenticator.Type.WEBAUTHN.value)
SECOND_FACTOR_NEEDED = (
    "This user signs in with a second factor, which this flow cannot ask for: use the "
    "authorization code flow (the browser sign-in) instead."
)


def second_factor_enrolled(user) -> bool:
    return Authenticator.objects.filter(user=user, type__in=SECOND_FACTOR_TYPES).exists()


def password_alone_refused(
    user, *, enrolled: bool | None = None, requirement: object = POLICY_NOT_READ
) -> bool:
    """Whether a password alone must not sign `user` in: they have a second factor, or their
    org's policy requires one of them (`enrolled` and `requirement` when already read)."""
    if enrolled if enrolled is not None else second_factor_enrolled(user):
        return True
    return mfa_required_for(user, requirement)


def _factor_change_recorded(action: AuditAction):
    def record(sender, request, user, authenticator, **kwargs) -> None:
        """Audit a factor set up, removed or reset (SPEC §7, §11): its type only."""
        audit_record(
            action=action,
            organization=user.organization,
            actor=user,
            target=user,
            details={"type": authenticator.type},
            meta=RequestMeta.from_request(request),
        )

    return record


_AUDITED = (
    (signals.authenticator_added, AuditAction.FACTOR_ADDED),
    (signals.authenticator_removed, AuditAction.FACTOR_REMOVED),
    (signals.authenticator_reset, AuditAction.FACTOR_RESET),
)


def factor_changes_audited() -> None:
    """Connect the audit of factor changes (accounts.apps.AccountsConfig.ready)."""
    for signal, action in _AUDITED:
        receiver = _factor_change_recorded(action)
        signal.connect(receiver, weak=False, dispatch_uid=f"doorman-audit-{action}")
