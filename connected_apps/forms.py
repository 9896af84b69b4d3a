"""Django forms of the Connected Apps portal pages.

The forms only shape input into what `connected_apps.services` takes (lists of redirect URIs,
public keys, scopes with their `context_params`); the services validate it and decide who may
do what, and their `ValidationError` is copied onto the form (`add_service_errors`).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.db import models

from accounts.catalog import PERMISSIONS, SCOPE_DESCRIPTIONS, Permission, SpecialScope
from accounts.models import Environment, Organization
from accounts.portal_forms import add_service_errors
from connected_apps.models import AppScope, Audience, ConnectedApp, GrantType

__all__ = [
    "AppType",
    "ConnectedAppCreateForm",
    "ConnectedAppEditForm",
    "ScopeContexts",
    "ScopesForm",
    "add_service_errors",
]

OWNER_REQUIRED = "Choose the organization or business group that owns the app."

# Special scopes by what they are about, in the order the picker shows them.
SPECIAL_SCOPE_AREAS: dict[str, tuple[SpecialScope, ...]] = {
    "Sign-in and profile": (SpecialScope.OPENID, SpecialScope.PROFILE, SpecialScope.EMAIL),
    "Broad access": (SpecialScope.FULL, SpecialScope.READ_FULL),
    "Offline access": (SpecialScope.OFFLINE_ACCESS,),
}

_PEM_BLOCK = re.compile(r"-----BEGIN [A-Z0-9 ]+-----.*?-----END [A-Z0-9 ]+-----", re.DOTALL)


class AppType(models.TextChoices):
    USER = "user", "App acts on behalf of a user"
    OWN = "own", "App acts on its own behalf (client credentials)"


APP_TYPE_HELP = {
    AppType.USER: "People sign in and allow the app to act for them: web apps, CLIs, "
    "integrations that read a user's data.",
    AppType.OWN: "The app gets its own tokens with its client id and secret: CI/CD "
    "pipelines, scripts, back-end services.",
}

USER_GRANT_CHOICES = [
    (GrantType.AUTHORIZATION_CODE.value, "Authorization code"),
    (GrantType.REFRESH_TOKEN.value, "Refresh token"),
    (GrantType.PASSWORD.value, "Password"),
    (GrantType.JWT_BEARER.value, "JWT bearer"),
]
GRANT_HELP = {
    GrantType.AUTHORIZATION_CODE.value: "Users sign in on Doorman and allow the app "
    "(with PKCE). Needs a redirect URI.",
    GrantType.REFRESH_TOKEN.value: "The app renews access tokens without asking the user "
    "again (needs offline_access for authorization code apps).",
    GrantType.PASSWORD.value: "The app sends the user's username and password itself. "
    "Only for apps you fully trust.",
    GrantType.JWT_BEARER.value: "The app signs a JWT assertion naming the user with a key "
    "you register below.",
}

AUDIENCE_CHOICES = [
    (Audience.INTERNAL.value, "Members of this organization only"),
    (Audience.EVERYONE.value, "All platform users"),
]


# ---------------------------------------------------------------------------------------------
# Text areas -> the lists the services take
# ---------------------------------------------------------------------------------------------
def lines_to_list(text: str) -> list[str]:
    """One entry per non-blank line, stripped."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def parse_public_keys(text: str) -> list[str | dict]:
    """PEM blocks, and JWKs as JSON (one object, an array, or one object a line).

    Anything left that is neither is passed on as it is, so the service reports it as an
    unreadable key rather than the form dropping it silently.
    """
    text = text or ""
    keys: list[str | dict] = [match.group(0) for match in _PEM_BLOCK.finditer(text)]
    rest = _PEM_BLOCK.sub("", text).strip()
    if not rest:
        return keys
    try:
        parsed = json.loads(rest)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        return [*keys, parsed]
    if isinstance(parsed, list):
        return [*keys, *parsed]
    for line in lines_to_list(rest):
        try:
            keys.append(json.loads(line))
        except ValueError:
            keys.append(line)
    return keys


def public_keys_text(keys: Iterable[str | dict]) -> str:
    """The edit form's text for stored keys: PEM as it is, a JWK as one JSON line."""
    parts = [k.strip() if isinstance(k, str) else json.dumps(k, sort_keys=True) for k in keys]
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------------
# The scope picker
# ---------------------------------------------------------------------------------------------
def _slug(scope: str) -> str:
    return scope.replace(":", "_")


def _indented(org: Organization, top: int) -> str:
    return "\u2003" * max(org.depth - top, 0) + org.name


@dataclass
class ScopeContexts:
    """Where an own-behalf app's scopes may apply: orgs/BGs and their environments."""

    orgs: list[Organization] = field(default_factory=list)
    environments: list[Environment] = field(default_factory=list)

    @property
    def org_choices(self) -> list[tuple[str, str]]:
        top = min((o.depth for o in self.orgs), default=0)
        return [(str(o.id), _indented(o, top)) for o in self.orgs]

    @property
    def environment_choices(self) -> list[tuple[str, list[tuple[str, str]]]]:
        grouped: dict[str, list[tuple[str, str]]] = {}
        for env in self.environments:
            grouped.setdefault(env.organization.name, []).append((str(env.id), env.name))
        return list(grouped.items())

    @property
    def environment_orgs(self) -> dict[str, str]:
        return {str(e.id): str(e.organization_id) for e in self.environments}


class ScopePickerMixin:
    """Adds the scope picker's fields to a form: `scopes` (checkboxes) and, for each
    permission scope, the orgs/BGs (and environments) an own-behalf app holds it in."""

    fields: dict[str, forms.Field]

    def add_scope_fields(self, contexts: ScopeContexts) -> None:
        self.contexts = contexts
        self.fields["scopes"] = forms.MultipleChoiceField(
            label="Scopes",
            required=False,
            choices=[(s, s) for s in (*SpecialScope.values, *Permission.values)],
            widget=forms.CheckboxSelectMultiple,
        )
        for permission, info in PERMISSIONS.items():
            self.fields[f"orgs_{_slug(permission)}"] = forms.MultipleChoiceField(
                label=f"Organizations and business groups for {permission.value}",
                required=False,
                choices=contexts.org_choices,
                widget=forms.SelectMultiple(attrs={"size": min(max(len(contexts.orgs), 2), 5)}),
            )
            if info.environment_scoped:
                self.fields[f"envs_{_slug(permission)}"] = forms.MultipleChoiceField(
                    label=f"Environments for {permission.value}",
                    required=False,
                    choices=contexts.environment_choices,
                    widget=forms.SelectMultiple(attrs={"size": 4}),
                )

    def scope_values(self, *, own_behalf: bool) -> list[Any]:
        """The `scopes` argument of the services.

        A user app: the checked scope names. An own-behalf app: each checked permission scope
        once per environment chosen, and once per org/BG chosen without an environment of its
        own (no choice at all: the owner org, as the service decides).
        """
        data = self.cleaned_data  # type: ignore[attr-defined]
        names = list(data.get("scopes") or [])
        if not own_behalf:
            return names
        env_orgs = self.contexts.environment_orgs
        values: list[Any] = []
        for name in names:
            if name not in Permission.values:
                values.append(name)  # the service says which special scope is not allowed
                continue
            orgs = data.get(f"orgs_{_slug(name)}") or []
            envs = data.get(f"envs_{_slug(name)}") or []
            if not orgs and not envs:
                values.append({"scope": name})
                continue
            for env_id in envs:
                context = {"org": env_orgs[env_id], "envId": env_id}
                values.append({"scope": name, "context_params": context})
            orgs_with_env = {env_orgs[e] for e in envs}
            for org_id in orgs:
                if org_id not in orgs_with_env:
                    values.append({"scope": name, "context_params": {"org": org_id}})
        return values

    def scope_groups(self) -> list[dict]:
        """The catalog grouped by area for the template, each scope with its bound fields."""
        bound = self["scopes"]  # type: ignore[index]
        selected = set(bound.value() or [])
        groups: list[dict] = []
        for area, scopes in SPECIAL_SCOPE_AREAS.items():
            groups.append(
                {
                    "area": area,
                    "special": True,
                    "items": [self._scope_item(s.value, selected) for s in scopes],
                }
            )
        by_area: dict[str, list[dict]] = {}
        for permission in PERMISSIONS:
            by_area.setdefault(PERMISSIONS[permission].area, []).append(
                self._scope_item(permission.value, selected)
            )
        groups += [{"area": a, "special": False, "items": items} for a, items in by_area.items()]
        return groups

    def _scope_item(self, scope: str, selected: set[str]) -> dict:
        slug = _slug(scope)
        info = PERMISSIONS.get(Permission(scope)) if scope in Permission.values else None
        return {
            "value": scope,
            "description": SCOPE_DESCRIPTIONS[scope],
            "checked": scope in selected,
            "id": f"id_scope_{slug}",
            "permission": info is not None,
            "environment_scoped": bool(info and info.environment_scoped),
            "orgs_field": self[f"orgs_{slug}"] if info else None,  # type: ignore[index]
            "envs_field": self[f"envs_{slug}"]  # type: ignore[index]
            if info and info.environment_scoped
            else None,
        }

    def scope_errors(self) -> list[str]:
        errors = list(self.errors.get("scopes", []))  # type: ignore[attr-defined]
        for name, field_errors in self.errors.items():  # type: ignore[attr-defined]
            if name.startswith(("orgs_", "envs_")):
                errors += field_errors
        return errors


def scope_initial(rows: Iterable[AppScope]) -> dict[str, Any]:
    """The picker's initial values for an app's scope rows (the inverse of scope_values).

    An org/BG holding a scope org-wide covers its environments, so an environment row next
    to an org-wide row of the same org changes nothing and is shown as the org-wide one.
    """
    initial: dict[str, Any] = {"scopes": []}
    per_scope: dict[str, list[AppScope]] = {}
    for row in rows:
        per_scope.setdefault(row.scope, []).append(row)
    for scope, scope_rows in per_scope.items():
        initial["scopes"].append(scope)
        if scope not in Permission.values:
            continue
        wide = {r.context_org_id for r in scope_rows if r.context_environment_id is None}
        orgs = {r.context_org_id for r in scope_rows if r.context_org_id}
        envs = [
            r.context_environment_id
            for r in scope_rows
            if r.context_environment_id and r.context_org_id not in wide
        ]
        initial[f"orgs_{_slug(scope)}"] = [str(o) for o in orgs]
        if envs:
            initial[f"envs_{_slug(scope)}"] = [str(e) for e in envs]
    return initial


# ---------------------------------------------------------------------------------------------
# Forms
# ---------------------------------------------------------------------------------------------
def _redirect_uris_field() -> forms.CharField:
    return forms.CharField(
        label="Redirect URIs",
        required=False,
        widget=forms.Textarea(
            attrs={"rows": 3, "spellcheck": "false", "placeholder": "https://app.example/callback"}
        ),
        help_text="One a line, matched exactly. https, or http on localhost/127.0.0.1 only.",
    )


def _website_field() -> forms.CharField:
    return forms.CharField(
        label="Website URL",
        required=False,
        max_length=500,
        widget=forms.URLInput(attrs={"placeholder": "https://app.example"}),
        help_text="Shown to people on the Authorize App screen.",
    )


def _public_keys_field() -> forms.CharField:
    return forms.CharField(
        label="Public keys",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false", "class": "mono"}),
        help_text="PEM public keys (RSA 2048+ or EC P-256), or JWKs as JSON. Needed for JWT "
        "bearer; they also let the app authenticate with private_key_jwt.",
    )


def _audience_field() -> forms.ChoiceField:
    # Not required: an own-behalf app has no audience, and the flow does not send one for it.
    return forms.ChoiceField(
        label="Who can use this application",
        required=False,
        choices=AUDIENCE_CHOICES,
        initial=Audience.INTERNAL.value,
        widget=forms.RadioSelect,
    )


class ConnectedAppCreateForm(ScopePickerMixin, forms.Form):
    """Every answer of the Create App flow; `submission_id` makes a resent form harmless."""

    submission_id = forms.UUIDField(widget=forms.HiddenInput)
    client_name = forms.CharField(
        label="App name",
        max_length=100,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    app_type = forms.ChoiceField(
        label="Type of app", choices=AppType.choices, initial=AppType.USER, widget=forms.RadioSelect
    )
    grant_types = forms.MultipleChoiceField(
        label="Grant types",
        required=False,
        choices=USER_GRANT_CHOICES,
        initial=[GrantType.AUTHORIZATION_CODE.value, GrantType.REFRESH_TOKEN.value],
        widget=forms.CheckboxSelectMultiple,
    )
    redirect_uris = _redirect_uris_field()
    website_url = _website_field()
    public_keys = _public_keys_field()
    audience = _audience_field()
    owner = forms.ChoiceField(label="Owner organization or business group")

    def __init__(
        self,
        *args,
        owners: list[Organization],
        contexts: ScopeContexts,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        top = min((o.depth for o in owners), default=0)
        self.owners = {str(o.id): o for o in owners}
        self.fields["owner"].choices = [(str(o.id), _indented(o, top)) for o in owners]
        self.fields["owner"].error_messages["required"] = OWNER_REQUIRED
        if not self.is_bound and "submission_id" not in self.initial:
            self.initial["submission_id"] = uuid.uuid4()
        self.add_scope_fields(contexts)

    @property
    def own_behalf(self) -> bool:
        return self.cleaned_data.get("app_type") == AppType.OWN

    def owner_org(self) -> Organization:
        return self.owners[self.cleaned_data["owner"]]

    def service_arguments(self) -> dict[str, Any]:
        """Keyword arguments of connected_app_create (besides access, owner and meta)."""
        data = self.cleaned_data
        own = self.own_behalf
        if own:
            return {
                "client_name": data["client_name"],
                "grant_types": [GrantType.CLIENT_CREDENTIALS.value],
                "website_url": data["website_url"],
                "scopes": self.scope_values(own_behalf=True),
            }
        return {
            "client_name": data["client_name"],
            "grant_types": list(data["grant_types"]),
            "redirect_uris": lines_to_list(data["redirect_uris"]),
            "website_url": data["website_url"],
            "public_keys": parse_public_keys(data["public_keys"]),
            "audience": data["audience"] or Audience.INTERNAL.value,
            "scopes": self.scope_values(own_behalf=False),
        }

    def app_type_items(self) -> list[dict]:
        bound = self["app_type"]
        return [
            {"value": v, "label": label, "help": APP_TYPE_HELP[v], "checked": bound.value() == v}
            for v, label in AppType.choices
        ]

    def grant_items(self) -> list[dict]:
        selected = set(self["grant_types"].value() or [])
        return [
            {
                "value": v,
                "label": label,
                "help": GRANT_HELP[v],
                "checked": v in selected,
                "id": f"id_grant_{v.rsplit(':', 1)[-1]}",
            }
            for v, label in USER_GRANT_CHOICES
        ]


class ConnectedAppEditForm(forms.Form):
    """The app's settings. An own-behalf app has no redirect URIs, keys or audience to set."""

    client_name = forms.CharField(label="App name", max_length=100)
    grant_types = forms.MultipleChoiceField(
        label="Grant types",
        required=False,
        choices=USER_GRANT_CHOICES,
        widget=forms.CheckboxSelectMultiple,
    )
    redirect_uris = _redirect_uris_field()
    website_url = _website_field()
    audience = _audience_field()
    public_keys = _public_keys_field()

    def __init__(self, *args, app: ConnectedApp, **kwargs) -> None:
        kwargs.setdefault(
            "initial",
            {
                "client_name": app.name,
                "grant_types": list(app.grant_types),
                "redirect_uris": "\n".join(app.redirect_uris.split()),
                "website_url": app.website_url,
                "audience": app.audience,
                "public_keys": public_keys_text(app.public_keys),
            },
        )
        super().__init__(*args, **kwargs)
        self.app = app
        if app.acts_on_own_behalf:
            for name in ("grant_types", "redirect_uris", "audience", "public_keys"):
                del self.fields[name]

    def changes(self) -> dict[str, Any]:
        """The `changes` argument of connected_app_update."""
        data = self.cleaned_data
        changes: dict[str, Any] = {
            "client_name": data["client_name"],
            "website_url": data["website_url"],
        }
        if not self.app.acts_on_own_behalf:
            changes.update(
                grant_types=list(data["grant_types"]),
                redirect_uris=lines_to_list(data["redirect_uris"]),
                audience=data["audience"] or self.app.audience,
                public_keys=parse_public_keys(data["public_keys"]),
            )
        return changes

    def grant_items(self) -> list[dict]:
        if "grant_types" not in self.fields:
            return []
        selected = set(self["grant_types"].value() or [])
        return [
            {
                "value": v,
                "label": label,
                "help": GRANT_HELP[v],
                "checked": v in selected,
                "id": f"id_edit_grant_{v.rsplit(':', 1)[-1]}",
            }
            for v, label in USER_GRANT_CHOICES
        ]


class ScopesForm(ScopePickerMixin, forms.Form):
    """The scopes editor of an app's page: the same picker as Create App."""

    def __init__(self, *args, app: ConnectedApp, contexts: ScopeContexts, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.app = app
        self.add_scope_fields(contexts)


class SearchForm(forms.Form):
    q = forms.CharField(label="Search apps", required=False, max_length=100)


class ConfirmForm(forms.Form):
    """The form of a confirmation page: `confirm` says it came from there, `submission_id`
    makes a resent form (Back, reload) harmless."""

    confirm = forms.CharField(widget=forms.HiddenInput, initial="yes")
    submission_id = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("submission_id", uuid.uuid4())

    def clean_confirm(self) -> str:
        if self.cleaned_data["confirm"] != "yes":
            raise forms.ValidationError("Confirm on the confirmation page.")
        return "yes"


class EnabledForm(forms.Form):
    enabled = forms.TypedChoiceField(
        choices=[("true", "Enabled"), ("false", "Disabled")], coerce=lambda v: v == "true"
    )
