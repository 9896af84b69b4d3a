"""The services of a connected app's life: create (the secret shown once), change, set its
scopes, rotate its secret, delete. Each locks the app's row, checks, writes and audits in one
transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from oauth2_provider.generators import generate_client_secret

from accounts.access import Access
from accounts.models import Organization
from audit.models import AuditAction
from audit.services import RequestMeta, audit_record
from connected_apps.models import AppScope, Audience, ConnectedApp, GrantType
from connected_apps.selectors import app_scope_data
from connected_apps.services.cleaning import (
    GRANT_TYPES_MIXED,
    ScopeSpec,
    _check_consistency,
    _clean_audience,
    _clean_grant_types,
    _clean_name,
    _clean_scopes,
    scope_specs_data,
)
from connected_apps.services.power import (
    _check_keys_conferred,
    _check_scopes_conferred,
    _check_takes_app_power,
    _held_scope_keys,
    _require_manager,
)
from connected_apps.validation import (
    validate_public_keys,
    validate_redirect_uris,
    validate_website_url,
)

MAX_APPS_PER_ROOT_ORG = 2000
APP_GONE = "The app was deleted."
TOO_MANY_APPS = f"An organization can own at most {MAX_APPS_PER_ROOT_ORG} connected apps."


@dataclass(frozen=True)
class AppWithSecret:
    app: ConnectedApp
    client_secret: str


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
