"""Authorized apps (SPEC §6, §8): for the org administrator, the apps the org's users
authorized (revoke one for the whole org), the org's settings (feature switch, allowlist
toggle) and the allowlist with its approved-vs-current scope diff.

Every page and action goes through connected_apps.controls: only an Organization Administrator
of the viewer's root org gets here (403 otherwise). Actions that take access away ask first.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.generic import TemplateView

from accounts.catalog import SCOPE_DESCRIPTIONS
from accounts.views import PortalMixin
from connected_apps import controls, selectors
from connected_apps.forms import AllowlistClientIdForm

SETTINGS_SAVED = "Connected apps settings saved."
APPROVED = "{name} is allowlisted with its current scopes."
REMOVED = "{name} is no longer on the allowlist."
REVOKED = "{name} is revoked for {count} user(s) of your organization."
CLIENT_ID_UNKNOWN = "No app with this client ID can be approved for your organization's users."


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
        context.setdefault("client_id_form", AllowlistClientIdForm())
        context.update(
            org=self.org,
            candidates=[
                {"row": row, "scope_items": scope_items(row.scopes)}
                for row in selectors.allowlist_candidate_list(org=self.org)
            ],
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


def scope_items(scopes: list[str]) -> list[dict[str, str]]:
    """Scopes in plain words, as the consent screen shows them."""
    return [{"name": s, "description": SCOPE_DESCRIPTIONS.get(s, s)} for s in scopes]


class AllowlistApproveView(AuthorizedAppsView):
    """POST `client_id`: approve or re-approve the app's current scopes (the endpoint the page's
    buttons used before they led to the confirmation page; it still answers the same admins).
    With `review`, the advanced form's submit: the confirmation page of that app. An id that
    names no app for the org re-renders the page with the error (400), never a 404 page."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        form = AllowlistClientIdForm(request.POST)
        approval = None
        if form.is_valid():
            client_id = form.cleaned_data["client_id"].strip()
            approval = selectors.allowlist_approval_get(org=self.org, client_id=client_id)
            if approval is None:
                form.add_error("client_id", CLIENT_ID_UNKNOWN)
        if approval is None:
            context = self.get_context_data(client_id_form=form)
            return render(request, self.template_name, context, status=400)
        if request.POST.get("review"):
            return HttpResponseRedirect(
                reverse("connected_apps:allowlist_approve_confirm", args=[approval.app.client_id])
            )
        row = controls.allowlist_approve(
            access=self.access, org=self.org, client_id=approval.app.client_id, meta=self.meta()
        )
        messages.success(request, APPROVED.format(name=row.entry.app.name))
        return self.back()


class AllowlistApproveConfirmView(AuthorizedAppsMixin, TemplateView):
    """GET: exactly which scopes approving (or re-approving) the app confers on it for the
    org's users; POST: approve them. The form carries the scopes shown, so an app that changed
    its scopes in between is shown again rather than approved unseen."""

    template_name = "connected_apps/allowlist_approve_confirm.html"

    def load(self) -> None:
        super().load()
        approval = selectors.allowlist_approval_get(
            org=self.org, client_id=self.kwargs["client_id"]
        )
        if approval is None:
            raise Http404(controls.APP_NOT_FOUND)
        self.approval = approval

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        approval = self.approval
        context.update(
            org=self.org,
            app=approval.app,
            approval=approval,
            scope_items=scope_items(approval.scopes),
            removed_items=scope_items(approval.removed_scopes),
        )
        return context

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            row = controls.allowlist_approve(
                access=self.access,
                org=self.org,
                client_id=self.approval.app.client_id,
                expected_scopes=request.POST.getlist("scopes"),
                meta=self.meta(),
            )
        except ValidationError as exc:
            context = self.get_context_data(errors=_messages(exc))
            return render(request, self.template_name, context, status=400)
        except PermissionDenied as exc:
            context = self.get_context_data(errors=[str(exc)])
            return render(request, self.template_name, context, status=403)
        messages.success(request, APPROVED.format(name=row.entry.app.name))
        return self.back()


def _messages(exc: ValidationError) -> list[str]:
    return [str(m) for m in exc.messages]


class AllowlistRemoveView(AuthorizedAppsMixin, TemplateView):
    """GET: what removing the app from the allowlist does; POST: remove it."""

    template_name = "connected_apps/allowlist_remove_confirm.html"

    def load(self) -> None:
        super().load()
        entry = selectors.allowlist_entry_get(org=self.org, client_id=self.kwargs["client_id"])
        if entry is None:
            raise Http404(controls.NOT_ALLOWLISTED)
        self.entry = entry

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(
            org=self.org,
            app=self.entry.app,
            entry=self.entry,
            scope_items=scope_items(list(self.entry.approved_scopes)),
            allowlist_on=controls.org_settings_get(org=self.org).allowlist_enabled,
        )
        return context

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        controls.allowlist_remove(
            access=self.access, org=self.org, client_id=self.entry.app.client_id, meta=self.meta()
        )
        messages.success(request, REMOVED.format(name=self.entry.app.name))
        return self.back()
