"""Writes for connected apps: create, change, rotate the secret, set scopes, delete (SPEC §2).

Every function checks `manage:connected_apps` at the owner org, validates everything before
it writes, writes in one transaction and records its audit event in the same transaction.
The client secret is returned once and stored only as a keyed digest (oauth.hashers).

`lifecycle` holds the services, `cleaning` what they accept, `power` what the caller may confer
(SPEC §10); every public name is re-exported here: `from connected_apps.services import x`.
"""

from connected_apps.services.cleaning import (
    AUDIENCE_INVALID,
    GRANT_TYPE_UNKNOWN,
    GRANT_TYPES_MIXED,
    GRANT_TYPES_REQUIRED,
    MAX_SCOPES_PER_APP,
    NAME_INVALID,
    PUBLIC_KEYS_REQUIRED,
    REDIRECT_URIS_REQUIRED,
    REFRESH_TOKEN_ALONE,
    SCOPE_CONTEXT_ENV_INVALID,
    SCOPE_CONTEXT_ONLY_FOR_OWN_BEHALF,
    SCOPE_CONTEXT_ORG_INVALID,
    SCOPE_NOT_FOR_OWN_BEHALF,
    SCOPE_UNKNOWN,
    SCOPES_NOT_A_LIST,
    TOO_MANY_SCOPES,
    ScopeSpec,
    scope_specs_data,
)
from connected_apps.services.lifecycle import (
    APP_GONE,
    MAX_APPS_PER_ROOT_ORG,
    TOO_MANY_APPS,
    UPDATABLE_FIELDS,
    AppWithSecret,
    connected_app_create,
    connected_app_delete,
    connected_app_rotate_secret,
    connected_app_set_scopes,
    connected_app_update,
)
from connected_apps.services.power import (
    APP_KEYS_NEED_ADMIN,
    APP_POWER_NOT_HELD,
    APP_SCOPE_NEEDS_ADMIN,
    APP_SCOPE_NOT_HELD,
)

__all__ = [
    "APP_GONE",
    "APP_KEYS_NEED_ADMIN",
    "APP_POWER_NOT_HELD",
    "APP_SCOPE_NEEDS_ADMIN",
    "APP_SCOPE_NOT_HELD",
    "AUDIENCE_INVALID",
    "GRANT_TYPES_MIXED",
    "GRANT_TYPES_REQUIRED",
    "GRANT_TYPE_UNKNOWN",
    "MAX_APPS_PER_ROOT_ORG",
    "MAX_SCOPES_PER_APP",
    "NAME_INVALID",
    "PUBLIC_KEYS_REQUIRED",
    "REDIRECT_URIS_REQUIRED",
    "REFRESH_TOKEN_ALONE",
    "SCOPES_NOT_A_LIST",
    "SCOPE_CONTEXT_ENV_INVALID",
    "SCOPE_CONTEXT_ONLY_FOR_OWN_BEHALF",
    "SCOPE_CONTEXT_ORG_INVALID",
    "SCOPE_NOT_FOR_OWN_BEHALF",
    "SCOPE_UNKNOWN",
    "TOO_MANY_APPS",
    "TOO_MANY_SCOPES",
    "UPDATABLE_FIELDS",
    "AppWithSecret",
    "ScopeSpec",
    "connected_app_create",
    "connected_app_delete",
    "connected_app_rotate_secret",
    "connected_app_set_scopes",
    "connected_app_update",
    "scope_specs_data",
]
