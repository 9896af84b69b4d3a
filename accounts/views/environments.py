"""Environments: the index over the viewer's tree and one org's list (create one there)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.views.generic import FormView, RedirectView

from accounts import selectors, services
from accounts.catalog import Permission
from accounts.models import Environment
from accounts.portal_forms import (
    EnvironmentCreateForm,
)
from accounts.views.mixins import OrganizationMixin, PortalMixin, ServiceFormMixin
from accounts.views.overview import access_overview


class EnvironmentsIndexView(PortalMixin, RedirectView):
    """The environments of the first org/BG of the viewer's tree they may see any in."""

    def get_redirect_url(self, *args, **kwargs) -> str:
        for entry in access_overview(self.access):
            if entry.can_view_environments:
                return reverse("portal:environment_list", args=[entry.org.id])
        raise PermissionDenied("You may not view any environment.")


class EnvironmentListView(OrganizationMixin, ServiceFormMixin, FormView):
    template_name = "accounts/environment_list.html"
    nav_section = "environments"
    form_class = EnvironmentCreateForm

    def load(self) -> None:
        super().load()
        self.environments = selectors.environment_list(access=self.access, org=self.org)

    def form_allowed(self) -> bool:
        return self.access.can(Permission.EDIT_ENVIRONMENT, self.org)

    def perform(self, form: forms.Form) -> Environment:
        return services.environment_create(
            access=self.access,
            org=self.org,
            name=form.cleaned_data["name"],
            type=form.cleaned_data["type"],
            meta=self.meta(),
        )

    def success_message(self, result: Environment) -> str:
        return f"Environment {result.name} created."

    def get_success_url(self) -> str:
        return reverse("portal:environment_list", args=[self.org.id])

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["environments"] = self.environments
        context["can_create"] = self.form_allowed()
        return context
