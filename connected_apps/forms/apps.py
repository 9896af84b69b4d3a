"""The forms of the Connected Apps pages: Create App, an app's settings, its scopes, and the
small forms of the list and the confirmation pages."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.db import models

from accounts.models import Organization
from connected_apps.forms.scopes import ScopeContexts, ScopePickerMixin, indented
from connected_apps.forms.text import lines_to_list, parse_public_keys, public_keys_text
from connected_apps.models import Audience, ConnectedApp, GrantType

OWNER_REQUIRED = "Choose the organization or business group that owns the app."


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


def _grant_items(selected_values: list[str] | None, *, id_prefix: str) -> list[dict]:
    """The user-grant checkboxes with their help texts, as the templates render them."""
    selected = set(selected_values or [])
    return [
        {
            "value": v,
            "label": label,
            "help": GRANT_HELP[v],
            "checked": v in selected,
            "id": f"{id_prefix}{v.rsplit(':', 1)[-1]}",
        }
        for v, label in USER_GRANT_CHOICES
    ]


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
        help_text="The name people see on the Authorize App screen and in My apps.",
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
    owner = forms.ChoiceField(
        label="Owner organization or business group",
        help_text="Any Organization Administrator of the owner can manage the app. An app "
        "acting on its own behalf holds its scopes in the owner and its business groups only.",
    )

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
        self.fields["owner"].choices = [(str(o.id), indented(o, top)) for o in owners]
        self.fields["owner"].error_messages["required"] = OWNER_REQUIRED
        if not self.is_bound:
            # A fresh form starts at its first field; a sent one at its first error.
            self.fields["client_name"].widget.attrs["autofocus"] = True
            self.initial.setdefault("submission_id", uuid.uuid4())
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
            # Only the name, the owner and the scopes apply: nobody signs in to an app acting
            # on its own behalf, so the sign-in answers are ignored if sent anyway.
            return {
                "client_name": data["client_name"],
                "grant_types": [GrantType.CLIENT_CREDENTIALS.value],
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
        return _grant_items(self["grant_types"].value(), id_prefix="id_grant_")


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
        return _grant_items(self["grant_types"].value(), id_prefix="id_edit_grant_")


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


class AllowlistClientIdForm(forms.Form):
    """The Authorized apps page's advanced approval: an app by its client id."""

    client_id = forms.CharField(label="Client ID", max_length=100)
