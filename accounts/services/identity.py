"""Writes for identity providers, the users they assert (RFC 7523 jwt-bearer, SPEC §5) and the
links between a provider and the org's members.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from accounts.access import Access
from accounts.catalog import Permission
from accounts.models import (
    FederatedIdentity,
    IdentityProvider,
    IdentityProviderType,
    Organization,
    User,
)
from accounts.services.names import _clean_name, _has_control_characters
from accounts.services.permissions import NOT_A_MEMBER
from accounts.services.users import (
    EMAIL_INVALID,
    PERSON_NAME_TOO_LONG,
    USERNAME_INVALID,
    _clean_user_fields,
    _email_errors,
)
from accounts.sso_domains import domain_state_kept, proved_elsewhere
from audit.models import AuditAction
from audit.services import RequestMeta, audit_record
from core.sealing import seal

IDENTITY_PROVIDER_NAME_TAKEN = "This organization already has an identity provider with this name."
USER_INACTIVE = "User {username} is deactivated."
FEDERATED_USERNAME_TAKEN = (
    "This username belongs to an account the identity provider is not linked to."
)
SUBJECT_INVALID = "At most 150 characters, without control characters."
SUBJECT_TAKEN = "Another member is linked to this provider under this subject."
IDENTITY_LINK_NEEDS_ADMIN = (
    "Only an Organization Administrator of the root organization can link or unlink members: "
    "a link hands the provider the member's account, whatever they hold in the tree."
)


# ---------------------------------------------------------------------------------------------
# Identity providers
# ---------------------------------------------------------------------------------------------
SSO_NEEDS_ROOT_ADMIN = (
    "Only an Organization Administrator of the root organization (with full access) can set up "
    "or change single sign-on: it decides who signs in as the organization's members."
)
TYPE_INVALID = "Must be one of: jwt, oidc, saml."
DOMAIN_TAKEN = "Another identity provider proved {domain} is its own."


def _sso_settings(
    *, kind: str, body: dict, provider: IdentityProvider | None
) -> tuple[dict, str | None, list[str]]:
    """(config, client secret to seal or None to keep, domains) of an SSO provider from an
    administrator's input (accounts.sso_config checks it)."""
    from accounts import sso_config

    if kind == IdentityProviderType.OIDC:
        config, secret = sso_config.clean_oidc_config(
            body, secret_required=provider is None or not provider.client_secret_sealed
        )
    else:
        config, secret = sso_config.clean_saml_config(body), None
    return config, secret, sso_config.clean_domains(body.get("domains"))


def _check_domains_free(domains: list[str], provider_id: object) -> None:
    """A domain another provider proved is its own (accounts.sso_domains): nobody else may
    claim it. An unproved claim routes nothing, so it blocks nobody."""
    taken = proved_elsewhere(provider_id)
    for domain in domains:
        if domain in taken:
            raise ValidationError({"domains": DOMAIN_TAKEN.format(domain=domain)})


def _audited_config(provider: IdentityProvider) -> dict:
    """What the audit trail keeps of a provider's settings: never the secret, nor the
    certificate's bytes."""
    config = {k: v for k, v in provider.config.items() if k not in ("x509cert", "domain_token")}
    if provider.client_secret_sealed:
        config["client_secret"] = "(set)"  # noqa: S105 -- a marker, not a secret
    return {"type": provider.type, "domains": provider.domains, **config}


def identity_provider_create(
    *,
    access: Access,
    org: Organization,
    name: str,
    kind: str = IdentityProviderType.JWT,
    settings: dict | None = None,
    meta: RequestMeta | None = None,
) -> IdentityProvider:
    """Register an identity provider of `org`. A `jwt` provider needs edit:organization
    there; an OpenID Connect or SAML one (company SSO, `settings` from the administrator's
    input) the root org's Organization Administrator with full access."""
    access.require(Permission.EDIT_ORGANIZATION, org)
    if kind not in IdentityProviderType.values:
        raise ValidationError({"type": TYPE_INVALID})
    name = _clean_name(name)
    config: dict = {}
    secret: str | None = None
    domains: list[str] = []
    type_is_sso = kind != IdentityProviderType.JWT
    if type_is_sso:
        if not access.holds_everything_in(org.root_organization):
            raise PermissionDenied(SSO_NEEDS_ROOT_ADMIN)
        config, secret, domains = _sso_settings(kind=kind, body=settings or {}, provider=None)
    with transaction.atomic():
        if IdentityProvider.objects.filter(organization=org, name__iexact=name).exists():
            raise ValidationError({"name": IDENTITY_PROVIDER_NAME_TAKEN})
        _check_domains_free(domains, None)
        if type_is_sso:
            config = domain_state_kept(None, config, domains)
        provider = IdentityProvider.objects.create(
            organization=org,
            name=name,
            type=kind,
            config=config,
            client_secret_sealed=seal(secret or ""),
            domains=domains,
        )
        details = {"name": name}
        if provider.is_sso:
            details.update(_audited_config(provider))
        audit_record(
            action=AuditAction.IDENTITY_PROVIDER_CREATED,
            organization=org,
            **access.audit_actor,
            target=provider,
            details=details,
            meta=meta,
        )
    return provider


def identity_provider_update(
    *,
    access: Access,
    provider: IdentityProvider,
    settings: dict,
    meta: RequestMeta | None = None,
) -> IdentityProvider:
    """Change an SSO provider's settings (all of them, as `identity_provider_create` takes
    them; the client secret is kept when not given). Audited before and after, secret
    redacted. Root org's Organization Administrator with full access only."""
    org = provider.organization
    if not access.holds_everything_in(org.root_organization):
        raise PermissionDenied(SSO_NEEDS_ROOT_ADMIN)
    if not provider.is_sso:
        raise ValidationError({"type": "A jwt identity provider has no settings to change."})
    config, secret, domains = _sso_settings(kind=provider.type, body=settings, provider=provider)
    with transaction.atomic():
        locked = IdentityProvider.objects.select_for_update().get(id=provider.id)
        before = _audited_config(locked)
        _check_domains_free(domains, locked.id)
        locked.config = domain_state_kept(locked, config, domains)
        locked.domains = domains
        if secret is not None:
            locked.client_secret_sealed = seal(secret)
        locked.save(update_fields=["config", "domains", "client_secret_sealed", "updated_at"])
        audit_record(
            action=AuditAction.IDENTITY_PROVIDER_CHANGED,
            organization=org,
            **access.audit_actor,
            target=locked,
            details={"before": before, "after": _audited_config(locked)},
            meta=meta,
        )
    locked.organization = org
    return locked


# ---------------------------------------------------------------------------------------------
# Users asserted by an identity provider (RFC 7523 jwt-bearer, SPEC §5)
# ---------------------------------------------------------------------------------------------
def _field_error(field: str, message: str, code: str) -> ValidationError:
    """A field error whose `code` callers can branch on (`error_dict[field][0].code`)."""
    return ValidationError({field: ValidationError(message, code=code)})


def federated_fields(
    *, username: str, email: str, first_name: str, last_name: str
) -> dict[str, str]:
    """An assertion's user fields, cleaned and checked (ValidationError with a code)."""
    fields = _clean_user_fields(
        username=username, email=email, first_name=first_name, last_name=last_name
    )
    try:
        if not fields["username"] or len(fields["username"]) > 150:
            raise ValidationError(USERNAME_INVALID)
        UnicodeUsernameValidator(message=USERNAME_INVALID)(fields["username"])
    except ValidationError as exc:
        raise _field_error("username", USERNAME_INVALID, "username_invalid") from exc
    if fields["email"] and _email_errors(fields["email"]):
        raise _field_error("email", EMAIL_INVALID, "email_invalid")
    for name in ("first_name", "last_name"):
        if len(fields[name]) > 150 or _has_control_characters(fields[name]):
            raise _field_error(name, PERSON_NAME_TOO_LONG, "name_invalid")
    return fields


@dataclass
class FederatedUser:
    """The user an identity provider's assertion names, worked out without writing anything:
    `user` is unsaved when `created`; `changed` lists the profile fields the assertion updates.
    `federated_user_save` writes it, in the caller's transaction, once every check passed."""

    provider: IdentityProvider
    user: User
    created: bool
    changed: list[str]


def federated_user_resolve(
    *, provider: IdentityProvider, username: str, email: str, first_name: str, last_name: str
) -> FederatedUser:
    """The user `provider` asserts as `username` (SPEC §5, "who an assertion may name").

    Invariant: only the provider's own link reaches a user. A username that belongs to any
    other account (a local account, another provider's user, anyone in another org) is
    refused (ValidationError, code `username_taken`) and that account is neither read back
    to the caller nor changed. A deactivated linked user is refused (`inactive`). Writes
    nothing."""
    fields = federated_fields(
        username=username, email=email, first_name=first_name, last_name=last_name
    )
    link = (
        FederatedIdentity.objects.select_related("user")
        .filter(provider=provider, subject__iexact=fields["username"])
        .first()
    )
    taken = link is None and User.objects.filter(username__iexact=fields["username"]).exists()
    return federated_user_decide(
        provider=provider,
        fields=fields,
        linked=link.user if link is not None else None,
        username_taken=taken,
    )


def federated_user_decide(
    *,
    provider: IdentityProvider,
    fields: dict[str, str],
    linked: User | None,
    username_taken: bool,
) -> FederatedUser:
    """`federated_user_resolve`'s rule on facts already read: `fields` from
    `federated_fields`, `linked` the user the provider's link for that username reaches,
    `username_taken` whether another account holds the username (asked only without a link)."""
    if linked is None:
        if username_taken:
            raise _field_error("username", FEDERATED_USERNAME_TAKEN, "username_taken")
        root_id = provider.organization.root_id_or_self
        user = User(organization_id=root_id, **fields)
        user.set_unusable_password()
        return FederatedUser(provider=provider, user=user, created=True, changed=[])
    user = linked
    if not user.is_active:
        raise _field_error("username", USER_INACTIVE.format(username=user.username), "inactive")
    # The email of an account that also has a password is the account's own: password
    # resets go there, so an assertion (the app's word alone) never changes it.
    updatable = ("first_name", "last_name")
    if not user.has_usable_password():
        updatable = ("email", *updatable)
    changed = [name for name in updatable if fields[name] and getattr(user, name) != fields[name]]
    for name in changed:
        setattr(user, name, fields[name])
    return FederatedUser(provider=provider, user=user, created=False, changed=changed)


def federated_user_save(
    resolved: FederatedUser, *, actor_app: object | None = None, meta: RequestMeta | None = None
) -> User:
    """Write what `federated_user_resolve` worked out: the new user with their link (and its
    audit event), or the updated profile fields. Call inside the transaction that issues the
    token, after every other check: a refused request leaves no user behind. A concurrent
    assertion that created the same user first is an IntegrityError (the request fails;
    the next one finds the link)."""
    user = resolved.user
    if not resolved.created:
        if resolved.changed:
            user.save(update_fields=resolved.changed)
        return user
    with transaction.atomic():
        user.save(force_insert=True)
        FederatedIdentity.objects.create(
            provider=resolved.provider, user=user, subject=user.username
        )
        audit_record(
            action=AuditAction.USER_CREATED,
            organization_id=user.organization_id,
            organization=None,
            actor=None,
            actor_app=actor_app,
            target=user,
            details={"username": user.username, "identity_provider": str(resolved.provider.id)},
            meta=meta,
        )
    return user


def identity_link_create(
    *,
    access: Access,
    provider: IdentityProvider,
    user: User,
    subject: str | None = None,
    meta: RequestMeta | None = None,
) -> FederatedIdentity:
    """Link an existing member to `provider` under `subject` (by default their username: what
    jwt-bearer assertions name; for SSO, the provider's `sub` or NameID), so the provider's
    assertions and sign-ins reach them (SPEC §5, §11). Only an Organization Administrator
    of the root org (with a full credential) may do it: a link hands the provider, and every
    app asserting through it, the member's account and whatever it holds anywhere in the
    tree."""
    org = provider.organization
    if not access.holds_everything_in(org.root_organization):
        raise PermissionDenied(IDENTITY_LINK_NEEDS_ADMIN)
    if user.organization_id != org.root_id_or_self:
        raise ValidationError({"user": NOT_A_MEMBER})
    subject = (subject or "").strip() or user.username
    if len(subject) > 150 or _has_control_characters(subject):
        raise ValidationError({"subject": SUBJECT_INVALID})
    with transaction.atomic():
        taken = FederatedIdentity.objects.filter(provider=provider, subject__iexact=subject)
        if taken.exclude(user=user).exists():
            raise ValidationError({"subject": SUBJECT_TAKEN})
        link, created = FederatedIdentity.objects.get_or_create(
            provider=provider, user=user, defaults={"subject": subject}
        )
        if not created and link.subject != subject:
            link.subject = subject
            link.save(update_fields=["subject"])
        audit_record(
            action=AuditAction.IDENTITY_LINKED,
            organization=org,
            **access.audit_actor,
            target=user,
            details={"identity_provider": str(provider.id), "subject": link.subject},
            meta=meta,
        )
    return link


def identity_link_delete(
    *, access: Access, provider: IdentityProvider, user: User, meta: RequestMeta | None = None
) -> None:
    """Unlink `user` from `provider`: its assertions no longer reach them (tokens already
    issued stay until they expire or are revoked). Root Organization Administrator only, as
    for linking. Idempotent."""
    org = provider.organization
    if not access.holds_everything_in(org.root_organization):
        raise PermissionDenied(IDENTITY_LINK_NEEDS_ADMIN)
    with transaction.atomic():
        deleted, _ = FederatedIdentity.objects.filter(provider=provider, user=user).delete()
        if deleted:
            audit_record(
                action=AuditAction.IDENTITY_UNLINKED,
                organization=org,
                **access.audit_actor,
                target=user,
                details={"identity_provider": str(provider.id)},
                meta=meta,
            )
