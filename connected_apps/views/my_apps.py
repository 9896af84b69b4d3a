"""My apps: the apps a signed-in user authorized, and revoking one (SPEC §6, §8)."""

from __future__ import annotations

from typing import Any

from django.views.generic import TemplateView

from accounts.catalog import SCOPE_DESCRIPTIONS
from accounts.views import PortalMixin
from connected_apps import selectors


def scope_descriptions(scopes: list[str]) -> list[dict[str, str]]:
    """Each scope with what it lets the app do, in plain words."""
    return [{"name": s, "description": SCOPE_DESCRIPTIONS.get(s, s)} for s in scopes]


class MyAppsMixin(PortalMixin):
    nav_section = "my_apps"


class MyAppsView(MyAppsMixin, TemplateView):
    """Every app the viewer allowed and has not revoked."""

    template_name = "connected_apps/my_apps.html"

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        authorizations = selectors.user_authorization_list(user=self.request.user)
        context["authorizations"] = [
            {"authorization": a, "app": a.app, "scopes": scope_descriptions(a.scopes)}
            for a in authorizations
        ]
        return context
