"""Revoking authorizations from the portal (SPEC §6, §8): a user revokes an app on My apps, an
org administrator revokes an app for every user of the org on Authorized apps. The pages are
connected_apps' (connected_apps.views.my_apps, .authorized); these two views call
oauth.services, hence live here. URL names stay in the `connected_apps` namespace.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.generic import TemplateView

from connected_apps import controls, selectors
from connected_apps.forms import ConfirmForm
from connected_apps.models import Authorization
from connected_apps.views.authorized import AuthorizedAppsMixin
from connected_apps.views.my_apps import MyAppsMixin, scope_descriptions
from oauth.services import authorization_revoke, authorizations_revoke_for_org

REVOKED = "{name} is revoked for {count} user(s) of your organization."


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
        if not ConfirmForm(request.POST).is_valid():
            return HttpResponseRedirect(request.path)
        authorization_revoke(actor=request.user, authorization=self.authorization, meta=self.meta())
        messages.success(
            request,
            f"Access of {self.app.name} revoked. Its tokens for your account no longer work.",
        )
        return HttpResponseRedirect(reverse("connected_apps:my_apps"))


class AuthorizedAppRevokeView(AuthorizedAppsMixin, TemplateView):
    """GET asks for confirmation; POST revokes the app for every user of the org."""

    template_name = "connected_apps/authorized_revoke.html"

    def load(self) -> None:
        super().load()
        self.row = controls.authorized_app_get(org=self.org, client_id=self.kwargs["client_id"])

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(org=self.org, row=self.row, app=self.row.app)
        return context

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.POST.get("confirm") != "yes":
            return HttpResponseRedirect(request.path)
        count = authorizations_revoke_for_org(
            access=self.access, org=self.org, app=self.row.app, meta=self.meta()
        )
        messages.success(request, REVOKED.format(name=self.row.app.name, count=count))
        return self.back()
