"""Authorized apps (SPEC §6, §8): for the org administrator, the apps the org's users
authorized (revoke one for the whole org), the org's settings (feature switch, allowlist
toggle) and the allowlist with its approved-vs-current scope diff.

Every page and action goes through connected_apps.controls: only an Organization Administrator
of the viewer's root org gets here (403 otherwise). Actions that take access away ask first.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.generic import TemplateView

from accounts.views import PortalMixin
from connected_apps import controls

SETTINGS_SAVED = "Connected apps settings saved."
APPROVED = "{name} is allowlisted with its current scopes."
REMOVED = "{name} is no longer on the allowlist."
REVOKED = "{name} is revoked for {count} user(s) of your organization."


class AuthorizedAppsMixin(PortalMixin):
    nav_section = "authorized_apps"

    def load(self) -> None:
        self.org = controls.controlled_org_get(
            access=self.access, org_id=self.request.user.organization_id, write=True
        )

    def back(self) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("connected_apps:authorized_apps"))


class AuthorizedAppsView(AuthorizedAppsMixin, TemplateView):
    """The page: settings, allowlist (with the scope diff) and the apps users authorized."""

    template_name = "connected_apps/authorized_apps.html"

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        allowlist = controls.allowlist_list(org=self.org)
        listed = {row.entry.app_id for row in allowlist}
        authorized = controls.authorized_app_list(org=self.org)
        context.update(
            org=self.org,
            settings=controls.org_settings_get(org=self.org),
            allowlist=allowlist,
            authorized=[
                {
                    "row": row,
                    "allowlisted": row.app.pk in listed,
                    "own": row.app.root_org_id == self.org.id,
                }
                for row in authorized
            ],
        )
        return context


class AuthorizedAppsSettingsView(AuthorizedAppsMixin, TemplateView):
    """POST the settings form; switching apps off asks for confirmation first."""

    template_name = "connected_apps/authorized_settings_confirm.html"
    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        enabled = request.POST.get("enabled") == "on"
        allowlist_enabled = request.POST.get("allowlist_enabled") == "on"
        current = controls.org_settings_get(org=self.org)
        if current.enabled and not enabled and request.POST.get("confirm") != "yes":
            context = self.get_context_data(org=self.org, allowlist_enabled=allowlist_enabled)
            return render(request, self.template_name, context)
        controls.org_settings_update(
            access=self.access,
            org=self.org,
            enabled=enabled,
            allowlist_enabled=allowlist_enabled,
            meta=self.meta(),
        )
        messages.success(request, SETTINGS_SAVED)
        return self.back()


class AllowlistApproveView(AuthorizedAppsMixin, TemplateView):
    """POST `client_id`: approve or re-approve the app's current scopes."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        client_id = request.POST.get("client_id", "").strip()
        row = controls.allowlist_approve(
            access=self.access, org=self.org, client_id=client_id, meta=self.meta()
        )
        messages.success(request, APPROVED.format(name=row.entry.app.name))
        return self.back()


class AllowlistRemoveView(AuthorizedAppsMixin, TemplateView):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        client_id = self.kwargs["client_id"]
        name = next(
            (
                r.entry.app.name
                for r in controls.allowlist_list(org=self.org)
                if r.entry.app.client_id == client_id
            ),
            client_id,
        )
        controls.allowlist_remove(
            access=self.access, org=self.org, client_id=client_id, meta=self.meta()
        )
        messages.success(request, REMOVED.format(name=name))
        return self.back()
