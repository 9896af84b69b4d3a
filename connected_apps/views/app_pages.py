"""An app's page and its actions: settings, enable/disable, scopes, and the confirmed ones,
rotating the secret and deleting the app (SPEC §8).

An app outside the viewer's tree is a 404, one inside it they may not manage a 403, whatever
the method: the selector decides before GET or POST runs.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django import forms as django_forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.generic import TemplateView

from accounts.catalog import PERMISSIONS, SCOPE_DESCRIPTIONS, Permission
from connected_apps import selectors, services
from connected_apps.forms import (
    ConfirmForm,
    ConnectedAppEditForm,
    EnabledForm,
    ScopeContexts,
    ScopesForm,
    add_service_errors,
    scope_initial,
)
from connected_apps.models import ConnectedApp
from connected_apps.views.common import (
    ConnectedAppsPortalMixin,
    secret_response,
    submission_done,
    submission_record,
)
from connected_apps.views.usage_chart import usage_chart

ALREADY_ROTATED = "That rotation was already done; the new secret was shown once, when it was."


# ---------------------------------------------------------------------------------------------
# An app's page
# ---------------------------------------------------------------------------------------------
class AppMixin(ConnectedAppsPortalMixin):
    """A page about one app the viewer manages (404 outside their tree, 403 inside it)."""

    app: ConnectedApp

    def load(self) -> None:
        self.app = selectors.connected_app_get(
            access=self.access, client_id=self.kwargs["client_id"]
        )

    @cached_property
    def contexts(self) -> ScopeContexts:
        """Orgs/BGs of the app's owner subtree (where its scopes may apply) and their
        environments."""
        owner_path = self.app.owner_org.path
        orgs = [
            o
            for o in selectors.scope_context_orgs(access=self.access)
            if o.path.startswith(owner_path)
        ]
        return ScopeContexts(
            orgs=orgs, environments=selectors.scope_context_environments(orgs=orgs)
        )

    def detail_url(self) -> str:
        return reverse("connected_apps:app_detail", args=[self.app.client_id])

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)  # type: ignore[misc]
        context["app"] = self.app
        return context


# The usage panel's ranges (`?days=`): any whole number of days up to the 30 kept is valid.
USAGE_RANGES = (7, 30)


class AppDetailView(AppMixin, TemplateView):
    """The app's page, in sections a link away (no script): Overview (usage first, with its
    range), Settings (the one place its fields are shown, as the form that edits them),
    Scopes, and the Danger zone (rotate, disable or enable, delete)."""

    template_name = "connected_apps/app_detail.html"

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        # A bad range answers 400 with the error and no figures, as the audit log's filters
        # do: figures that ignored the range would read as its answer.
        context = self.get_context_data(**kwargs)
        return self.render_to_response(context, status=400 if context["usage_errors"] else 200)

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        app = self.app
        rows = list(selectors.app_scope_rows(app))
        context.setdefault("edit_form", ConnectedAppEditForm(app=app))
        context.setdefault(
            "scopes_form",
            ScopesForm(app=app, contexts=self.contexts, initial=scope_initial(rows)),
        )
        context.update(
            scope_rows=[
                {
                    "row": row,
                    "description": SCOPE_DESCRIPTIONS.get(row.scope, row.scope),
                    "environment_scoped": row.scope in Permission.values
                    and PERMISSIONS[Permission(row.scope)].environment_scoped,
                }
                for row in rows
            ],
            **self.usage_context(),
        )
        return context

    def usage_context(self) -> dict[str, Any]:
        """The usage panel: the range asked for (`?days=`), its figures and chart, or the
        range's error and no figures."""
        raw = self.request.GET.get("days")
        try:
            days = selectors.usage_days(raw)
        except ValidationError as exc:
            return {
                "usage_errors": exc.message_dict,
                "usage_ranges": USAGE_RANGES,
                "usage": None,
                "usage_days": None,
            }
        usage = selectors.app_usage_report(app=self.app, days=days)
        return {
            "usage_errors": {},
            "usage_ranges": USAGE_RANGES,
            "usage": usage,
            "usage_days": days,
            "chart": usage_chart(usage.tokens_issued, usage.tokens_refused),
            # For the empty chart's example request: only an own-behalf app asks on its own.
            # The token endpoint discovery names (the issuer's), not the Host this page came by.
            "token_url": f"{settings.DOORMAN_ISSUER}/token"
            if self.app.acts_on_own_behalf
            else None,
        }


class AppActionView(AppDetailView):
    """A form of the app's page posted to its own URL: the service acts and a message says
    so; its ValidationError re-renders the page with the form's errors."""

    http_method_names = ["post"]
    form_context_name = ""

    def build_form(self) -> django_forms.Form:
        raise NotImplementedError

    def perform(self, form: Any) -> str:
        """Call the service; return the success message."""
        raise NotImplementedError

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        form = self.build_form()
        if form.is_valid():
            try:
                message = self.perform(form)
            except (ValidationError, PermissionDenied) as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, message)
                return HttpResponseRedirect(self.detail_url())
        if not self.form_context_name:
            messages.error(request, " ".join(e for errs in form.errors.values() for e in errs))
            return HttpResponseRedirect(self.detail_url())
        context = self.get_context_data(**{self.form_context_name: form})
        return self.render_to_response(context, status=400)


class AppEditView(AppActionView):
    form_context_name = "edit_form"

    def build_form(self) -> ConnectedAppEditForm:
        return ConnectedAppEditForm(self.request.POST, app=self.app)

    def perform(self, form: ConnectedAppEditForm) -> str:
        app = services.connected_app_update(
            access=self.access, app=self.app, changes=form.changes(), meta=self.meta()
        )
        return f"Settings of {app.name} saved."


class AppScopesView(AppActionView):
    form_context_name = "scopes_form"

    def build_form(self) -> ScopesForm:
        return ScopesForm(self.request.POST, app=self.app, contexts=self.contexts)

    def perform(self, form: ScopesForm) -> str:
        services.connected_app_set_scopes(
            access=self.access,
            app=self.app,
            scopes=form.scope_values(own_behalf=self.app.acts_on_own_behalf),
            meta=self.meta(),
        )
        return f"Scopes of {self.app.name} saved. They apply to its tokens from their next use."


class AppEnabledView(AppActionView):
    def build_form(self) -> EnabledForm:
        return EnabledForm(self.request.POST)

    def perform(self, form: EnabledForm) -> str:
        enabled = form.cleaned_data["enabled"]
        services.connected_app_update(
            access=self.access, app=self.app, changes={"enabled": enabled}, meta=self.meta()
        )
        if enabled:
            return f"{self.app.name} is enabled: it can get tokens again."
        return f"{self.app.name} is disabled: it gets no tokens and its tokens stopped working."


# ---------------------------------------------------------------------------------------------
# Confirmed actions: rotate the secret, delete the app
# ---------------------------------------------------------------------------------------------
@method_decorator(never_cache, name="dispatch")
class AppConfirmView(AppMixin, TemplateView):
    """GET shows what will happen and a confirmation form; only its POST acts."""

    template_name = "connected_apps/app_confirm.html"
    action = ""

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.setdefault("form", ConfirmForm())
        context["action"] = self.action
        return context

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        form = ConfirmForm(request.POST)
        if not form.is_valid():
            # Not sent from the confirmation page: show it rather than act.
            return HttpResponseRedirect(request.path)
        return self.confirmed(form.cleaned_data["submission_id"])

    def confirmed(self, submission_id: Any) -> HttpResponse:
        raise NotImplementedError


class AppRotateSecretView(AppConfirmView):
    action = "rotate"

    def confirmed(self, submission_id: Any) -> HttpResponse:
        if submission_done(self.request, submission_id) is not None:
            messages.info(self.request, ALREADY_ROTATED)
            return HttpResponseRedirect(self.detail_url())
        rotated = services.connected_app_rotate_secret(
            access=self.access, app=self.app, meta=self.meta()
        )
        submission_record(self.request, submission_id, self.app.client_id)
        messages.success(
            self.request,
            f"The client secret of {self.app.name} was rotated; the old one no longer works.",
        )
        return secret_response(
            self.request,
            app=rotated.app,
            client_secret=rotated.client_secret,
            rotated=True,
            context=self.get_context_data(),
        )


class AppDisableView(AppConfirmView):
    """Disabling asks first, as the other destructive actions do: every token of the app
    stops working at once."""

    action = "disable"

    def confirmed(self, submission_id: Any) -> HttpResponse:
        services.connected_app_update(
            access=self.access, app=self.app, changes={"enabled": False}, meta=self.meta()
        )
        messages.success(
            self.request,
            f"{self.app.name} is disabled: it gets no tokens and its tokens stopped working.",
        )
        return HttpResponseRedirect(self.detail_url())


class AppDeleteView(AppConfirmView):
    action = "delete"

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["usage"] = selectors.app_usage(app=self.app)
        return context

    def confirmed(self, submission_id: Any) -> HttpResponse:
        name = self.app.name
        services.connected_app_delete(access=self.access, app=self.app, meta=self.meta())
        messages.success(self.request, f"{name} deleted. Its tokens no longer work.")
        return HttpResponseRedirect(reverse("connected_apps:app_list"))
