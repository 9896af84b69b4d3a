"""Django forms of the Connected Apps portal pages.

The forms only shape input into what `connected_apps.services` takes (lists of redirect URIs,
public keys, scopes with their `context_params`); the services validate it and decide who may
do what, and their `ValidationError` is copied onto the form (`add_service_errors`).
"""

from accounts.portal_forms import add_service_errors
from connected_apps.forms.apps import (
    OWNER_REQUIRED,
    AllowlistClientIdForm,
    AppType,
    ConfirmForm,
    ConnectedAppCreateForm,
    ConnectedAppEditForm,
    EnabledForm,
    ScopesForm,
    SearchForm,
)
from connected_apps.forms.scopes import ScopeContexts, ScopePickerMixin, scope_initial
from connected_apps.forms.text import lines_to_list, parse_public_keys, public_keys_text

__all__ = [
    "OWNER_REQUIRED",
    "AllowlistClientIdForm",
    "AppType",
    "ConfirmForm",
    "ConnectedAppCreateForm",
    "ConnectedAppEditForm",
    "EnabledForm",
    "ScopeContexts",
    "ScopePickerMixin",
    "ScopesForm",
    "SearchForm",
    "add_service_errors",
    "lines_to_list",
    "parse_public_keys",
    "public_keys_text",
    "scope_initial",
]
