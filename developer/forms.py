"""The playground's form: which client id, redirect URI and scopes the live button uses."""

from __future__ import annotations

from django import forms

# The authorization endpoint's own bounds (oauth.views.authorize.checks.PARAMETER_LIMITS).
CLIENT_ID_MAX = 100
REDIRECT_URI_MAX = 2000
SCOPES_MAX = 2000


class PlaygroundForm(forms.Form):
    client_id = forms.CharField(label="Client ID", max_length=CLIENT_ID_MAX, required=False)
    redirect_uri = forms.CharField(
        label="Redirect URI",
        max_length=REDIRECT_URI_MAX,
        required=False,
        help_text="Registered on the app, exactly. The page there must load the script too.",
        widget=forms.TextInput(attrs={"list": "registered-redirect-uris", "inputmode": "url"}),
    )
    scopes = forms.CharField(
        label="Scopes",
        max_length=SCOPES_MAX,
        required=False,
        help_text="Space-separated, among the scopes the app holds.",
    )
