"""What a connected app may be: its name, grant types, audience and scopes as a caller sends them,
cleaned or refused with a message constant (SPEC §2). Nothing here writes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError

from accounts.catalog import ALL_SCOPES, PERMISSIONS, Permission, SpecialScope
from accounts.models import Environment, Organization
from connected_apps.models import Audience, ConnectedApp, GrantType

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


@dataclass(frozen=True)
class ScopeSpec:
    """One scope the app holds; `org`/`environment` only for own-behalf apps."""

    scope: str
    org: Organization | None = None
    environment: Environment | None = None


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
