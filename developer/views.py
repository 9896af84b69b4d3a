"""Developer pages: the `<doorman-signin>` playground (SPEC §8) and the API docs."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.mixins import LoginRequiredMixin
from django.templatetags.static import static
from django.urls import reverse
from django.views.generic import TemplateView
from drf_spectacular.views import SpectacularSwaggerView

from accounts.access import Access
from connected_apps.models import ConnectedApp, GrantType
from connected_apps.selectors import connected_app_list
from developer import snippets
from developer.forms import PlaygroundForm

SCRIPT_PATH = "js/doorman-signin.js"
# Who the user is, and offline_access so that the token response shows a refresh token too.
IDENTITY_SCOPES = ("openid", "profile", "email", "offline_access")
DEFAULT_SCOPES = "openid profile"


def signin_apps(user) -> list[ConnectedApp]:
    """The viewer's apps that can sign users in (authorization_code), by name."""
    apps = connected_app_list(access=Access(user=user)).prefetch_related("scope_grants")
    return [app for app in apps if GrantType.AUTHORIZATION_CODE in app.grant_types]


def suggested_scopes(app: ConnectedApp) -> str:
    """The identity scopes the app holds, else every scope it holds."""
    held = sorted({grant.scope for grant in app.scope_grants.all()})
    identity = [scope for scope in IDENTITY_SCOPES if scope in held]
    return " ".join(identity or held)


def button_settings(
    query, apps: dict[str, ConnectedApp], playground_url: str = ""
) -> tuple[PlaygroundForm, dict[str, str]]:
    """The form and the values the live button uses: what was typed; else, for `?app=`, that
    app's client id, the playground's own URL when the app registered it (the whole flow then
    comes back here), else its first redirect URI, and suggested scopes; else only default
    scopes."""
    if "client_id" in query:
        form = PlaygroundForm(query)
        return form, (form.cleaned_data if form.is_valid() else {})
    picked = apps.get(query.get("app", ""))
    if picked is not None:
        values = {
            "client_id": picked.client_id,
            "redirect_uri": (
                playground_url
                if playground_url in picked.redirect_uris.split()
                else next(iter(picked.redirect_uris.split()), "")
            ),
            "scopes": suggested_scopes(picked),
        }
    else:
        values = {"scopes": DEFAULT_SCOPES}
    return PlaygroundForm(initial=values), values


class PlaygroundView(LoginRequiredMixin, TemplateView):
    """Pick one of your apps (or type a client id), a redirect URI and scopes; see the live
    button and the snippet that embeds it. The page is also a redirect URI the button can
    come back to: register the playground's URL on an app to try the whole flow here."""

    template_name = "developer/playground.html"

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        apps = signin_apps(self.request.user)
        by_client_id = {app.client_id: app for app in apps}
        query = self.request.GET
        playground_url = self.request.build_absolute_uri(reverse("developer:playground"))
        form, values = button_settings(query, by_client_id, playground_url)
        client_id = values.get("client_id", "")
        redirect_uri = values.get("redirect_uri", "")
        scopes = " ".join(values.get("scopes", "").split())
        app = by_client_id.get(client_id)
        registered = app.redirect_uris.split() if app else []
        script_url = f"{settings.DOORMAN_BASE_URL}/{settings.STATIC_URL.strip('/')}/{SCRIPT_PATH}"
        shown = {"client_id": client_id, "redirect_uri": redirect_uri, "scopes": scopes}
        context.update(
            apps=apps,
            app=app,
            form=form,
            client_id=client_id,
            redirect_uri=redirect_uri,
            scopes=scopes,
            registered_redirect_uris=registered,
            redirect_uri_unregistered=bool(app and redirect_uri and redirect_uri not in registered),
            playground_url=playground_url,
            is_callback="state" in query and ("code" in query or "error" in query),
            script_static=static(SCRIPT_PATH),
            embed_snippet=snippets.embed(script_url=script_url, **shown),
            callback_snippet=snippets.callback(script_url=script_url, **shown),
            token_request=snippets.token_request(
                token_endpoint=f"{settings.DOORMAN_ISSUER}/token", redirect_uri=redirect_uri
            ),
            nav_section="developer",
        )
        return context


class ApiDocsView(SpectacularSwaggerView):
    """Swagger UI over /accounts/api/openapi.json, its assets served from static/ (sidecar)."""

    template_name = "developer/api_docs.html"
    url_name = "openapi-schema"
    title = "Doorman API"
