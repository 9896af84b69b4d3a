"""My apps: the apps a signed-in user authorized, and revoking one (SPEC §6, §8)."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.generic import TemplateView

from accounts.catalog import SCOPE_DESCRIPTIONS
from accounts.views import PortalMixin
from connected_apps import selectors
from connected_apps.forms import ConfirmForm
from connected_apps.models import Authorization


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


@method_decorator(never_cache, name="dispatch")
class MyAppRevokeView(MyAppsMixin, TemplateView):
    """GET asks for confirmation; its POST revokes: the app's tokens for the viewer die at
    once (oauth.services.authorization_revoke)."""

    template_name = "connected_apps/my_app_revoke.html"

    def load(self) -> None:
        self.authorization: Authorization = selectors.user_authorization_get(
            user=self.request.user, client_id=self.kwargs["client_id"]
        )

    @cached_property
    def app(self):
        return self.authorization.app

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(
            authorization=self.authorization,
            app=self.app,
            scopes=scope_descriptions(self.authorization.scopes),
            form=ConfirmForm(),
        )
        return context

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        from oauth.services import authorization_revoke  # oauth builds on connected_apps

        if not ConfirmForm(request.POST).is_valid():
            return HttpResponseRedirect(request.path)
        authorization_revoke(actor=request.user, authorization=self.authorization, meta=self.meta())
        messages.success(
            request,
            f"Access of {self.app.name} revoked. Its tokens for your account no longer work.",
        )
        return HttpResponseRedirect(reverse("connected_apps:my_apps"))
