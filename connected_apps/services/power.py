"""SPEC §10: nobody confers, through an app, power they could not use themselves. The checks
every service makes of its caller: managing the owner org, and holding what the app is given.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied

from accounts.access import Access
from accounts.catalog import Permission, SpecialScope
from accounts.models import Organization
from connected_apps.models import AppScope, ConnectedApp, GrantType
from connected_apps.services.cleaning import ScopeSpec

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
