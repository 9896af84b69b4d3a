"""What every portal page shares: a signed-in viewer and their `Access` (`PortalMixin`), the
org/BG a page is about (`OrganizationMixin`), a form that calls a service (`ServiceFormMixin`).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from accounts import selectors
from accounts.access import Access, access_for
from accounts.catalog import Permission
from accounts.models import Organization
from accounts.portal_forms import (
    add_service_errors,
)
from audit.services import RequestMeta


class PortalMixin(LoginRequiredMixin):
    """A signed-in page. `load()` fetches what the page is about before GET or POST runs, so
    a foreign id is a 404 and a missing permission a 403 whatever the method."""

    request: HttpRequest
    kwargs: dict[str, Any]
    nav_section = ""

    @cached_property
    def access(self) -> Access:
        return access_for(self.request.user)

    def load(self) -> None:
        """Fetch the page's objects through selectors; overridden by pages that have some."""

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.load()
        return super().dispatch(request, *args, **kwargs)

    def meta(self) -> RequestMeta:
        return RequestMeta.from_request(self.request)

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)  # type: ignore[misc]
        context["nav_section"] = self.nav_section
        return context


class OrganizationMixin(PortalMixin):
    """A page about one org/BG of the viewer's tree (the viewer's root org when no id)."""

    org: Organization

    def load(self) -> None:
        org_id = self.kwargs.get("org_id", self.request.user.organization_id)
        self.org = selectors.organization_get(access=self.access, org_id=org_id)

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["org"] = self.org
        context["org_links"] = _org_links(self.access, self.org)
        return context


class ServiceFormMixin:
    """`form_valid()` calls the service (`perform`) and adds a message; the service's
    ValidationError becomes form errors. An invalid form from a viewer who was never shown
    it is refused rather than re-rendered."""

    request: HttpRequest

    def form_allowed(self) -> bool:
        return True

    def perform(self, form: forms.Form) -> Any:
        raise NotImplementedError

    def success_message(self, result: Any) -> str:
        raise NotImplementedError

    def get_success_url(self) -> str:
        raise NotImplementedError

    def form_valid(self, form: forms.Form) -> HttpResponse:
        try:
            self.result = self.perform(form)
        except ValidationError as exc:
            add_service_errors(form, exc)
            return self.form_invalid(form)
        messages.success(self.request, self.success_message(self.result))
        return HttpResponseRedirect(self.get_success_url())

    def form_invalid(self, form: forms.Form) -> HttpResponse:
        if not self.form_allowed():
            raise PermissionDenied("You may not do this here.")
        return super().form_invalid(form)  # type: ignore[misc]


def _org_links(access: Access, org: Organization) -> dict[str, bool]:
    return {
        "detail": access.can(Permission.READ_ORGANIZATION, org),
        "environments": access.can_somewhere_in(Permission.VIEW_ENVIRONMENT, org),
        "users": access.can(Permission.READ_USERS, org),
    }
