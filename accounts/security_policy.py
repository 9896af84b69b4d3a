"""A root org's sign-in policy (SPEC §11): whether a second factor is required of its
administrators or of everyone, and whether SSO is enforced.

Organization Administrators of the root org manage it, with a session or a `full` token
(`read:full` may read it): it decides how every member signs in. A business group has none
(404), nor has another tenant's org. Changes are audited with the values before and after.

`mfa_required_for(user)` is the one rule of who the policy covers; `accounts.factors` says
what a covered user (or one with a factor) may not do with a password alone.
"""

from __future__ import annotations

from allauth.mfa.models import Authenticator
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q

from accounts.access import Access
from accounts.catalog import Role, SpecialScope
from accounts.models import (
    SSO_PROVIDER_TYPES,
    FederatedIdentity,
    IdentityProvider,
    MfaRequirement,
    Organization,
    OrgSecurityPolicy,
    RoleGrant,
)
from accounts.selectors import root_org_administered
from audit.models import AuditAction
from audit.services import RequestMeta, audit_record

NOT_ROOT_ORG = "The sign-in policy belongs to a root organization."
NOT_ADMIN = "Only an Organization Administrator of {org} can manage its sign-in policy."
FULL_CREDENTIAL_NEEDED = "The sign-in policy needs a session or a full token (read:full reads)."
SSO_NOT_SET_UP = (
    "Single sign-on cannot be enforced: the organization has no OpenID Connect or SAML "
    "identity provider yet."
)
SIGN_IN_WITH_SSO_FIRST = (
    "Sign in through the organization's identity provider once yourself first: enforcing "
    "single sign-on would lock you out otherwise."
)
MFA_CHOICES_MESSAGE = "Must be one of: off, admins, everyone."
SET_UP_YOURS_FIRST = (
    "Set up a second factor for yourself first: the policy would lock you out otherwise."
)
# A TOTP device or a WebAuthn key (security key or passkey) is a second factor; recovery
# codes only stand in for one.
SECOND_FACTOR_TYPES = (Authenticator.Type.TOTP.value, Authenticator.Type.WEBAUTHN.value)


def second_factor_enrolled(user) -> bool:
    return Authenticator.objects.filter(user=user, type__in=SECOND_FACTOR_TYPES).exists()


def totp_enrolled(user) -> bool:
    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def security_policy_org_get(*, access: Access, org_id: object, write: bool) -> Organization:
    """The root org `org_id` whose policy the caller may read (or, `write`, change)."""
    org = root_org_administered(
        access=access, org_id=org_id, not_root=NOT_ROOT_ORG, not_admin=NOT_ADMIN
    )
    readable = access.full_credential or SpecialScope.READ_FULL in access.scopes
    if not (access.holds_everything_in(org) if write else readable):
        raise PermissionDenied(FULL_CREDENTIAL_NEEDED)
    return org


def security_policy_get(*, org: Organization) -> OrgSecurityPolicy:
    """The org's policy; the defaults (unsaved) when it never changed it."""
    return OrgSecurityPolicy.objects.filter(organization=org).first() or OrgSecurityPolicy(
        organization=org
    )


def security_policy_update(
    *,
    access: Access,
    org: Organization,
    mfa_required: str | None = None,
    sso_enforced: bool | None = None,
    meta: RequestMeta | None = None,
) -> OrgSecurityPolicy:
    """Change the policy (audited with the values before and after). It applies from each
    member's next sign-in and next authorization request."""
    if mfa_required is not None and mfa_required not in MfaRequirement.values:
        raise ValidationError({"mfa_required": MFA_CHOICES_MESSAGE})
    if sso_enforced:
        _check_sso_enforceable(access, org)
    requiring = mfa_required not in (None, MfaRequirement.OFF)
    if requiring and access.user is not None and not second_factor_enrolled(access.user):
        raise ValidationError({"mfa_required": SET_UP_YOURS_FIRST})
    with transaction.atomic():
        policy, _ = OrgSecurityPolicy.objects.select_for_update().get_or_create(organization=org)
        before = {"mfa_required": policy.mfa_required, "sso_enforced": policy.sso_enforced}
        if mfa_required is not None:
            policy.mfa_required = mfa_required
        if sso_enforced is not None:
            policy.sso_enforced = sso_enforced
        policy.updated_by = access.user
        policy.save()
        after = {"mfa_required": policy.mfa_required, "sso_enforced": policy.sso_enforced}
        audit_record(
            action=AuditAction.ORG_SECURITY_POLICY_CHANGED,
            organization=org,
            **access.audit_actor,
            target=org,
            details={"before": before, "after": after},
            meta=meta,
        )
    return policy


def _check_sso_enforceable(access: Access, org: Organization) -> None:
    """SSO can be enforced once the org has an OpenID Connect or SAML provider, and the
    administrator enforcing it is linked to one (they can still sign in afterwards)."""
    providers = IdentityProvider.objects.filter(
        organization__in=Organization.objects.filter(Q(id=org.id) | Q(root_id=org.id)),
        type__in=SSO_PROVIDER_TYPES,
    )
    if not providers.exists():
        raise ValidationError({"sso_enforced": SSO_NOT_SET_UP})
    if (
        access.user is not None
        and not FederatedIdentity.objects.filter(user=access.user, provider__in=providers).exists()
    ):
        raise ValidationError({"sso_enforced": SIGN_IN_WITH_SSO_FIRST})


def sso_required_for(user) -> bool:
    """Whether the user's root org lets its members sign in through its identity provider
    only (SPEC §11: no password sign-in, no session without an SSO sign-in)."""
    return OrgSecurityPolicy.objects.filter(
        organization_id=user.organization_id, sso_enforced=True
    ).exists()


POLICY_NOT_READ = object()  # mfa_required_for's default: it reads the policy itself


def mfa_required_for(user, requirement: object = POLICY_NOT_READ) -> bool:
    """Whether the user's root org requires a second factor of them: of everyone, or of its
    administrators (Organization Administrator anywhere in the org). `requirement` is the
    policy's `mfa_required` when the caller read it already (None: no policy row)."""
    if requirement is POLICY_NOT_READ:
        requirement = (
            OrgSecurityPolicy.objects.filter(organization_id=user.organization_id)
            .values_list("mfa_required", flat=True)
            .first()
        )
    if requirement == MfaRequirement.EVERYONE:
        return True
    if requirement == MfaRequirement.ADMINS:
        return RoleGrant.objects.filter(user=user, role=Role.ORGANIZATION_ADMINISTRATOR).exists()
    return False
