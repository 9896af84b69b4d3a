"""Writes for connected apps: create, change, rotate the secret, set scopes, delete (SPEC §2).

Every function checks `manage:connected_apps` at the owner org, validates everything before
it writes, writes in one transaction and records its audit event in the same transaction.
The client secret is returned once and stored only as a keyed digest (oauth.hashers).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from oauth2_provider.generators import generate_client_secret

from accounts.access import Access
from accounts.catalog import ALL_SCOPES, PERMISSIONS, Permission, SpecialScope
from accounts.models import Environment, Organization
from audit.models import AuditAction
from audit.services import RequestMeta, audit_record
from connected_apps.models import (
    AppScope,
    Audience,
    ConnectedApp,
    GrantType,
)
from connected_apps.selectors import app_scope_data
from connected_apps.validation import (
    validate_public_keys,
    validate_redirect_uris,
    validate_website_url,
)

MAX_APPS_PER_ROOT_ORG = 2000
MAX_SCOPES_PER_APP = 1000

NAME_INVALID = "client_name must be 1 to 100 characters."
GRANT_TYPES_REQUIRED = "grant_types must name at least one grant type."
GRANT_TYPE_UNKNOWN = "Unknown grant type: {grant_type}."
GRANT_TYPES_MIXED = (
    "client_credentials cannot be combined with user grants: an app acts either on behalf of "
    "a user or on its own behalf."
)
REFRESH_TOKEN_ALONE = "refresh_token needs authorization_code, password or jwt-bearer."  # noqa: S105
REDIRECT_URIS_REQUIRED = "authorization_code apps need at least one redirect URI."
PUBLIC_KEYS_REQUIRED = "jwt-bearer apps need at least one public key."
AUDIENCE_INVALID = "audience must be internal or everyone."
SCOPE_UNKNOWN = "Unknown scope: {scope}."
SCOPE_NOT_FOR_OWN_BEHALF = "{scope} is not available to apps that act on their own behalf."
SCOPE_CONTEXT_ONLY_FOR_OWN_BEHALF = "context_params are only for client_credentials apps."
SCOPE_CONTEXT_ORG_INVALID = "context_params.org must be an org or business group of the owner."
SCOPE_CONTEXT_ENV_INVALID = "context_params.envId must be an environment of that organization."
TOO_MANY_SCOPES = f"An app can hold at most {MAX_SCOPES_PER_APP} scopes."
SCOPES_NOT_A_LIST = "scopes must be a list."
APP_GONE = "The app was deleted."
TOO_MANY_APPS = f"An organization can own at most {MAX_APPS_PER_ROOT_ORG} connected apps."
# SPEC §10: nobody confers, through an app, power they could not use themselves.
APP_SCOPE_NOT_HELD = "You can only give an app permissions you hold yourself: {scope} in {org}."
APP_SCOPE_NEEDS_ADMIN = (
    "Only an Organization Administrator of {org} with full access can give an app {scope}."
)
APP_POWER_NOT_HELD = (
    "Rotating the secret, adding a redirect URI or a grant type, or enabling {app} hands its "
    "power to whoever holds the secret: you need {scope} in {org} yourself."
)
APP_KEYS_NEED_ADMIN = (
    "Only an Organization Administrator of {org} with full access can register the jwt-bearer "
    "grant or public keys: an app holding them can sign in as the organization's users."
)


@dataclass(frozen=True)
class AppWithSecret:
    app: ConnectedApp
    client_secret: str


@dataclass(frozen=True)
class ScopeSpec:
    """One scope the app holds; `org`/`environment` only for own-behalf apps."""

    scope: str
    org: Organization | None = None
    environment: Environment | None = None


# ---------------------------------------------------------------------------------------------
# Validation helpers
# ---------------------------------------------------------------------------------------------
def _clean_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 100:
        raise ValidationError({"client_name": NAME_INVALID})
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        # NUL cannot be stored by PostgreSQL (a 500); no control character belongs in a name.
        raise ValidationError({"client_name": NAME_INVALID})
    return name.strip()


def _clean_grant_types(grant_types: Any) -> list[str]:
    if not isinstance(grant_types, list) or not grant_types:
        raise ValidationError({"grant_types": GRANT_TYPES_REQUIRED})
    cleaned: list[str] = []
    for value in grant_types:
        if value not in GrantType.values:
            raise ValidationError({"grant_types": GRANT_TYPE_UNKNOWN.format(grant_type=value)})
        if value not in cleaned:
            cleaned.append(value)
    if GrantType.CLIENT_CREDENTIALS in cleaned and len(cleaned) > 1:
        raise ValidationError({"grant_types": GRANT_TYPES_MIXED})
    if cleaned == [GrantType.REFRESH_TOKEN]:
        raise ValidationError({"grant_types": REFRESH_TOKEN_ALONE})
    return cleaned


def _clean_audience(audience: Any) -> str:
    if audience not in Audience.values:
        raise ValidationError({"audience": AUDIENCE_INVALID})
    return audience


def _subtree(owner: Organization) -> dict[uuid.UUID, Organization]:
    return {o.id: o for o in Organization.objects.filter(path__startswith=owner.path)}


def _clean_scopes(
    scopes: Iterable[Any], *, own_behalf: bool, owner: Organization
) -> list[ScopeSpec]:
    """Scope names (user apps) or `{"scope", "context_params": {"org", "envId"}}` objects."""
    if not isinstance(scopes, list | tuple):  # a JSON true or 42 was a TypeError (a 500)
        raise ValidationError({"scopes": SCOPES_NOT_A_LIST})
    items = list(scopes)
    if len(items) > MAX_SCOPES_PER_APP:
        raise ValidationError({"scopes": TOO_MANY_SCOPES})
    orgs = _subtree(owner) if own_behalf else {}
    specs: list[ScopeSpec] = []
    for item in items:
        name, context = (item, None) if isinstance(item, str) else _scope_object(item)
        if name not in ALL_SCOPES:
            raise ValidationError({"scopes": SCOPE_UNKNOWN.format(scope=name)})
        if not own_behalf:
            if context:
                raise ValidationError({"scopes": SCOPE_CONTEXT_ONLY_FOR_OWN_BEHALF})
            specs.append(ScopeSpec(scope=name))
            continue
        if name not in Permission.values:
            if name == SpecialScope.PROFILE and not context:
                continue  # implicit for own-behalf apps
            raise ValidationError({"scopes": SCOPE_NOT_FOR_OWN_BEHALF.format(scope=name)})
        specs.append(_own_behalf_spec(name, context or {}, orgs, owner))
    unique = list(dict.fromkeys(specs))
    if len(unique) > MAX_SCOPES_PER_APP:
        raise ValidationError({"scopes": TOO_MANY_SCOPES})
    return unique


def _scope_object(item: Any) -> tuple[Any, dict | None]:
    if not isinstance(item, dict) or not isinstance(item.get("scope"), str):
        raise ValidationError({"scopes": SCOPE_UNKNOWN.format(scope=item)})
    context = item.get("context_params") or None
    if context is not None and not isinstance(context, dict):
        raise ValidationError({"scopes": SCOPE_CONTEXT_ORG_INVALID})
    return item["scope"], context


def _own_behalf_spec(
    name: str, context: dict, orgs: dict[uuid.UUID, Organization], owner: Organization
) -> ScopeSpec:
    org = owner
    if context.get("org") is not None:
        try:
            org = orgs[uuid.UUID(str(context["org"]))]
        except (KeyError, ValueError) as exc:
            raise ValidationError({"scopes": SCOPE_CONTEXT_ORG_INVALID}) from exc
    environment = None
    env_id = context.get("envId")
    if env_id is not None:
        if not PERMISSIONS[Permission(name)].environment_scoped:
            raise ValidationError({"scopes": SCOPE_CONTEXT_ENV_INVALID})
        try:
            environment = Environment.objects.get(id=uuid.UUID(str(env_id)), organization=org)
        except (Environment.DoesNotExist, ValueError) as exc:
            raise ValidationError({"scopes": SCOPE_CONTEXT_ENV_INVALID}) from exc
    return ScopeSpec(scope=name, org=org, environment=environment)


def _check_consistency(app: ConnectedApp) -> None:
    if GrantType.AUTHORIZATION_CODE in app.grant_types and not app.redirect_uris.split():
        raise ValidationError({"redirect_uris": REDIRECT_URIS_REQUIRED})
    if GrantType.JWT_BEARER in app.grant_types and not app.public_keys:
        raise ValidationError({"public_keys": PUBLIC_KEYS_REQUIRED})


def _require_manager(access: Access, owner: Organization) -> None:
    if not access.can(Permission.MANAGE_CONNECTED_APPS, owner):
        raise PermissionDenied(f"You need manage:connected_apps in {owner.name}.")


def _spec_key(scope: str, org_id: Any, environment_id: Any) -> tuple[str, str, str]:
    return (scope, str(org_id or ""), str(environment_id or ""))


def _held_scope_keys(app: ConnectedApp) -> set[tuple[str, str, str]]:
    rows = AppScope.objects.filter(app=app).values_list(
        "scope", "context_org_id", "context_environment_id"
    )
    return {_spec_key(*row) for row in rows}


def _check_scopes_conferred(
    access: Access,
    owner: Organization,
    specs: list[ScopeSpec],
    held: set[tuple[str, str, str]],
    *,
    refusal: str = APP_SCOPE_NOT_HELD,
    app_name: str = "",
) -> None:
    """SPEC §10: every scope the change gives the app must be power the actor holds. An
    own-behalf permission scope is used in its context, so the actor must hold that permission
    there (in that environment, or org-wide); `full` and `read:full` reach everything the
    users can do, so they need the owner org's Organization Administrator with full access.
    Scopes the app already holds need nothing: a manager may edit an app an administrator
    set up without being able to widen it (or being forced to narrow it): `held` are the
    keys (`_held_scope_keys`) of the scopes the app holds now."""
    for spec in specs:
        key = _spec_key(
            spec.scope, spec.org and spec.org.id, spec.environment and spec.environment.id
        )
        if key in held:
            continue
        if spec.scope in (SpecialScope.FULL, SpecialScope.READ_FULL):
            if not access.holds_everything_in(owner):
                raise PermissionDenied(
                    APP_SCOPE_NEEDS_ADMIN.format(org=owner.name, scope=spec.scope)
                )
        elif spec.org is not None and not access.can(
            Permission(spec.scope), spec.org, spec.environment
        ):
            raise PermissionDenied(
                refusal.format(scope=spec.scope, org=spec.org.name, app=app_name)
            )


def _check_keys_conferred(
    access: Access,
    owner: Organization,
    grant_types: list[str],
    public_keys: list,
    *,
    had_grant_types: Iterable[str] = (),
    had_public_keys: Iterable[Any] = (),
) -> None:
    """SPEC §5: adding the jwt-bearer grant or a public key needs the owner org's
    Organization Administrator (with full access): whoever holds the key can assert the
    org's federated users, and sign in as the app."""
    adds_grant = GrantType.JWT_BEARER in grant_types and GrantType.JWT_BEARER not in set(
        had_grant_types
    )
    had_keys = list(had_public_keys)
    adds_key = any(key not in had_keys for key in public_keys)
    if (adds_grant or adds_key) and not access.holds_everything_in(owner):
        raise PermissionDenied(APP_KEYS_NEED_ADMIN.format(org=owner.name))


def _check_takes_app_power(access: Access, app: ConnectedApp) -> None:
    """SPEC §10: a new secret, a new redirect URI or a new grant type puts the app's power
    in the hands of the actor, so the actor must hold what creating the app would have
    needed: an own-behalf app's context scopes where they apply, and for `full`,
    `read:full`, keys or jwt-bearer the owner org's administrator with a full credential.
    (An app acting for users has no power of its own beyond that: what users gave it is
    asked again when its redirect URIs or grants grow, `ConnectedApp.consent_reset_at`.)"""
    owner = app.owner_org
    _check_keys_conferred(access, owner, app.grant_types, app.public_keys)
    rows = AppScope.objects.filter(app=app).select_related("context_org", "context_environment")
    current = [ScopeSpec(r.scope, r.context_org, r.context_environment) for r in rows]
    # As if conferred afresh (nothing counts as held): the same rule as creating it.
    _check_scopes_conferred(
        access, owner, current, set(), refusal=APP_POWER_NOT_HELD, app_name=app.name
    )


def _app_locked(app: ConnectedApp) -> ConnectedApp:
    """`app` re-read and locked for the caller's transaction: every change of an app is
    checked against, and written over, the app as it is now, one change at a time (a check
    passed against a copy another change made stale confers what it never allowed)."""
    locked = (
        ConnectedApp.objects.select_for_update(of=("self",))
        .select_related("owner_org")
        .filter(pk=app.pk)
        .first()
    )
    if locked is None:
        raise Http404(APP_GONE)
    return locked


def _write_scopes(app: ConnectedApp, specs: list[ScopeSpec]) -> None:
    AppScope.objects.filter(app=app).delete()
    AppScope.objects.bulk_create(
        [
            AppScope(app=app, scope=s.scope, context_org=s.org, context_environment=s.environment)
            for s in specs
        ]
    )


def scope_specs_data(specs: Iterable[ScopeSpec]) -> list[dict]:
    """Audit-friendly description of a scope set (ids only, never a secret)."""
    return [
        {
            "scope": s.scope,
            **({"org": str(s.org.id)} if s.org else {}),
            **({"envId": str(s.environment.id)} if s.environment else {}),
        }
        for s in specs
    ]


# ---------------------------------------------------------------------------------------------
# Services
# ---------------------------------------------------------------------------------------------
def connected_app_create(
    *,
    access: Access,
    owner: Organization,
    client_name: Any,
    grant_types: Any,
    redirect_uris: Any = (),
    scopes: Any = (),
    public_keys: Any = (),
    audience: Any = Audience.INTERNAL,
    website_url: Any = "",
    meta: RequestMeta | None = None,
) -> AppWithSecret:
    """Register an app owned by `owner`; returns it with its client secret, shown only once."""
    _require_manager(access, owner)
    name = _clean_name(client_name)
    cleaned_grants = _clean_grant_types(grant_types)
    own_behalf = GrantType.CLIENT_CREDENTIALS in cleaned_grants
    uris = validate_redirect_uris(redirect_uris)
    keys = validate_public_keys(public_keys)
    specs = _clean_scopes(scopes or [], own_behalf=own_behalf, owner=owner)
    _check_scopes_conferred(access, owner, specs, set())
    _check_keys_conferred(access, owner, cleaned_grants, keys)
    app = ConnectedApp(
        name=name,
        grant_types=cleaned_grants,
        redirect_uris=" ".join(uris),
        public_keys=keys,
        audience=_clean_audience(audience),
        website_url=validate_website_url(website_url),
        owner_org=owner,
        root_org_id=owner.root_id_or_self,
        user=access.user,
        client_type=ConnectedApp.CLIENT_CONFIDENTIAL,
        skip_authorization=False,
    )
    _check_consistency(app)
    secret = generate_client_secret()
    app.client_secret = secret
    with transaction.atomic():
        # Serialise creations per root org so the limit holds under concurrency.
        Organization.objects.select_for_update().filter(id=owner.root_id_or_self).first()
        if ConnectedApp.objects.filter(root_org_id=owner.root_id_or_self).count() >= (
            MAX_APPS_PER_ROOT_ORG
        ):
            raise ValidationError({"non_field_errors": TOO_MANY_APPS})
        app.save()
        _write_scopes(app, specs)
        audit_record(
            action=AuditAction.APP_CREATED,
            organization=owner,
            **access.audit_actor,
            target=app,
            target_type="connected_app",
            details={
                "client_id": app.client_id,
                "client_name": name,
                "grant_types": cleaned_grants,
                "scopes": scope_specs_data(specs),
                "audience": app.audience,
            },
            meta=meta,
        )
    return AppWithSecret(app=app, client_secret=secret)


UPDATABLE_FIELDS = (
    "client_name",
    "grant_types",
    "redirect_uris",
    "public_keys",
    "audience",
    "website_url",
    "enabled",
    "scopes",
)


def connected_app_update(
    *,
    access: Access,
    app: ConnectedApp,
    changes: dict[str, Any],
    meta: RequestMeta | None = None,
) -> ConnectedApp:
    """Change any of UPDATABLE_FIELDS; takes effect for every token on its next request.

    Checked and saved against the app's row as it is now, locked, and only the fields the
    change names are written: a change in flight cannot undo a secret rotation, a disable or
    a key removal made meanwhile, nor be checked against what they replaced."""
    _require_manager(access, app.owner_org)
    unknown = set(changes) - set(UPDATABLE_FIELDS)
    if unknown:
        raise ValidationError({name: "This field cannot be changed." for name in sorted(unknown)})
    with transaction.atomic():
        app = _app_locked(app)
        before = _app_summary(app)
        had_grant_types, had_public_keys = list(app.grant_types), list(app.public_keys or [])
        had_redirect_uris, was_enabled = set(app.redirect_uris.split()), app.enabled
        fields = _changes_apply(app, changes)
        specs = None
        if "scopes" in changes:
            specs = _clean_scopes(
                changes["scopes"] or [], own_behalf=app.acts_on_own_behalf, owner=app.owner_org
            )
            _check_scopes_conferred(access, app.owner_org, specs, _held_scope_keys(app))
        _check_keys_conferred(
            access,
            app.owner_org,
            app.grant_types,
            app.public_keys,
            had_grant_types=had_grant_types,
            had_public_keys=had_public_keys,
        )
        adds_redirect = not set(app.redirect_uris.split()) <= had_redirect_uris
        adds_grant = not set(app.grant_types) <= set(had_grant_types)
        if adds_redirect or adds_grant or (app.enabled and not was_enabled):
            # An administrator's disable is undone only by someone holding the app's power.
            _check_takes_app_power(access, app)
        if adds_redirect or (
            GrantType.AUTHORIZATION_CODE in app.grant_types
            and GrantType.AUTHORIZATION_CODE not in had_grant_types
        ):
            # Codes may now go somewhere the users never agreed to: ask them again.
            app.consent_reset_at = timezone.now()
            fields.append("consent_reset_at")
        _check_consistency(app)
        app.save(update_fields=[*fields, "updated"])
        if specs is not None:
            _write_scopes(app, specs)
        audit_record(
            action=AuditAction.APP_UPDATED,
            organization=app.owner_org,
            **access.audit_actor,
            target=app,
            target_type="connected_app",
            details={"client_id": app.client_id, "before": before, "after": _app_summary(app)},
            meta=meta,
        )
    return app


def _changes_apply(app: ConnectedApp, changes: dict[str, Any]) -> list[str]:
    """Validate `changes` onto `app` (not saved); the model fields they set."""
    fields: list[str] = []
    if "client_name" in changes:
        app.name = _clean_name(changes["client_name"])
        fields.append("name")
    if "grant_types" in changes:
        new_grants = _clean_grant_types(changes["grant_types"])
        if (GrantType.CLIENT_CREDENTIALS in new_grants) != app.acts_on_own_behalf:
            raise ValidationError({"grant_types": GRANT_TYPES_MIXED})
        app.grant_types = new_grants
        fields.append("grant_types")
    if "redirect_uris" in changes:
        app.redirect_uris = " ".join(validate_redirect_uris(changes["redirect_uris"]))
        fields.append("redirect_uris")
    if "public_keys" in changes:
        app.public_keys = validate_public_keys(changes["public_keys"])
        fields.append("public_keys")
    if "audience" in changes:
        app.audience = _clean_audience(changes["audience"])
        fields.append("audience")
    if "website_url" in changes:
        app.website_url = validate_website_url(changes["website_url"])
        fields.append("website_url")
    if "enabled" in changes:
        if not isinstance(changes["enabled"], bool):
            raise ValidationError({"enabled": "Must be true or false."})
        app.enabled = changes["enabled"]
        fields.append("enabled")
    return fields


def connected_app_set_scopes(
    *,
    access: Access,
    app: ConnectedApp,
    scopes: Any,
    meta: RequestMeta | None = None,
) -> list[ScopeSpec]:
    """Replace the app's scope set (`PUT …/scopes`)."""
    _require_manager(access, app.owner_org)
    if not isinstance(scopes, list):
        raise ValidationError({"scopes": "Must be a list."})
    specs = _clean_scopes(scopes, own_behalf=app.acts_on_own_behalf, owner=app.owner_org)
    with transaction.atomic():
        app = _app_locked(app)
        _check_scopes_conferred(access, app.owner_org, specs, _held_scope_keys(app))
        before = app_scope_data(app)
        _write_scopes(app, specs)
        audit_record(
            action=AuditAction.APP_SCOPES_CHANGED,
            organization=app.owner_org,
            **access.audit_actor,
            target=app,
            target_type="connected_app",
            details={
                "client_id": app.client_id,
                "before": before,
                "after": scope_specs_data(specs),
            },
            meta=meta,
        )
    return specs


def connected_app_rotate_secret(
    *, access: Access, app: ConnectedApp, meta: RequestMeta | None = None
) -> AppWithSecret:
    """A new secret, returned once; the old one stops working immediately. Only someone
    holding the app's power may take it (`_check_takes_app_power`)."""
    _require_manager(access, app.owner_org)
    secret = generate_client_secret()
    with transaction.atomic():
        app = _app_locked(app)
        _check_takes_app_power(access, app)
        app.client_secret = secret
        app.save(update_fields=["client_secret", "updated"])
        audit_record(
            action=AuditAction.APP_SECRET_ROTATED,
            organization=app.owner_org,
            **access.audit_actor,
            target=app,
            target_type="connected_app",
            details={"client_id": app.client_id},
            meta=meta,
        )
    return AppWithSecret(app=app, client_secret=secret)


def connected_app_delete(
    *, access: Access, app: ConnectedApp, meta: RequestMeta | None = None
) -> None:
    """Delete the app; its tokens, codes and authorizations go with it (FK cascade)."""
    _require_manager(access, app.owner_org)
    with transaction.atomic():
        audit_record(
            action=AuditAction.APP_DELETED,
            organization=app.owner_org,
            **access.audit_actor,
            target=app,
            target_type="connected_app",
            details={"client_id": app.client_id, "client_name": app.name},
            meta=meta,
        )
        app.delete()


def _app_summary(app: ConnectedApp) -> dict:
    return {
        "client_name": app.name,
        "grant_types": list(app.grant_types),
        "redirect_uris": app.redirect_uris.split(),
        "audience": app.audience,
        "website_url": app.website_url,
        "enabled": app.enabled,
        "public_keys": len(app.public_keys),
    }


__all__ = [
    "AppWithSecret",
    "ScopeSpec",
    "connected_app_create",
    "connected_app_delete",
    "connected_app_rotate_secret",
    "connected_app_set_scopes",
    "connected_app_update",
]
