"""An organization's or business group's page and its actions: rename, create a business group,
create an identity provider.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.generic import TemplateView

from accounts import security_policy, selectors, services
from accounts.catalog import Permission
from accounts.models import Organization
from accounts.portal_forms import (
    BusinessGroupCreateForm,
    IdentityProviderCreateForm,
    OrganizationRenameForm,
    SecurityPolicyForm,
)
from accounts.views.mixins import OrganizationMixin, ServiceFormMixin


class OrganizationDetailView(OrganizationMixin, TemplateView):
    """One org/BG: rename, business groups, environments link, identity providers."""

    template_name = "accounts/organization_detail.html"
    nav_section = "organization"

    def load(self) -> None:
        super().load()
        self.access.require(Permission.READ_ORGANIZATION, self.org)

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        org, access = self.org, self.access
        can_edit = access.can(Permission.EDIT_ORGANIZATION, org)
        can_manage_groups = access.can(Permission.MANAGE_BUSINESS_GROUPS, org)
        context.update(
            parent=org.parent,
            parent_readable=org.parent is not None
            and access.can(Permission.READ_ORGANIZATION, org.parent),
            business_groups=selectors.business_group_list(access=access, org=org),
            identity_providers=selectors.identity_provider_list(access=access, org=org),
            can_edit=can_edit,
            can_manage_groups=can_manage_groups,
            is_admin=access.is_admin_of(org),
            may_set_up_sso=access.holds_everything_in(org.root_organization),
        )
        if can_edit:
            context.setdefault("rename_form", OrganizationRenameForm(initial={"name": org.name}))
            context.setdefault("identity_provider_form", IdentityProviderCreateForm())
        if can_manage_groups:
            context.setdefault("business_group_form", BusinessGroupCreateForm())
        if org.parent_id is None and access.is_admin_of(org):
            policy = security_policy.security_policy_get(org=org)
            context["security_policy"] = policy
            context.setdefault(
                "security_policy_form",
                SecurityPolicyForm(
                    initial={
                        "mfa_required": policy.mfa_required,
                        "sso_enforced": policy.sso_enforced,
                    }
                ),
            )
        return context


class OrganizationActionView(ServiceFormMixin, OrganizationDetailView):
    """A form of the organization page, posted to its own URL; errors re-render the page."""

    http_method_names = ["post"]
    form_class: type[forms.Form]
    form_context_name: str
    permission: Permission

    def form_allowed(self) -> bool:
        return self.access.can(self.permission, self.org)

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        form = self.form_class(request.POST)
        if form.is_valid():
            return self.form_valid(form)
        return self.form_invalid(form)

    def form_invalid(self, form: forms.Form) -> HttpResponse:
        if not self.form_allowed():
            raise PermissionDenied(f"You need {self.permission.value} in {self.org.name}.")
        context = self.get_context_data(**{self.form_context_name: form})
        return self.render_to_response(context)

    def get_success_url(self) -> str:
        return reverse("portal:organization_detail", args=[self.org.id])


class OrganizationRenameView(OrganizationActionView):
    form_class = OrganizationRenameForm
    form_context_name = "rename_form"
    permission = Permission.EDIT_ORGANIZATION

    def perform(self, form: forms.Form) -> Organization:
        return services.organization_rename(
            access=self.access, org=self.org, name=form.cleaned_data["name"], meta=self.meta()
        )

    def success_message(self, result: Organization) -> str:
        return f"Renamed to {result.name}."


class BusinessGroupCreateView(OrganizationActionView):
    form_class = BusinessGroupCreateForm
    form_context_name = "business_group_form"
    permission = Permission.MANAGE_BUSINESS_GROUPS

    def perform(self, form: forms.Form) -> Organization:
        return services.business_group_create(
            access=self.access, parent=self.org, name=form.cleaned_data["name"], meta=self.meta()
        )

    def success_message(self, result: Organization) -> str:
        return f"Business group {result.name} created."


class IdentityProviderCreateView(OrganizationActionView):
    form_class = IdentityProviderCreateForm
    form_context_name = "identity_provider_form"
    permission = Permission.EDIT_ORGANIZATION

    def perform(self, form: forms.Form):
        return services.identity_provider_create(
            access=self.access, org=self.org, name=form.cleaned_data["name"], meta=self.meta()
        )

    def success_message(self, result) -> str:
        return f"Identity provider {result.name} registered with id {result.id}."


POLICY_SAVED = {
    "off": "a second factor is nobody's obligation",
    "admins": "administrators sign in with a second factor",
    "everyone": "every member signs in with a second factor",
}


class SecurityPolicyUpdateView(OrganizationActionView):
    """The root org's sign-in policy (accounts.security_policy: root-org administrators)."""

    form_class = SecurityPolicyForm
    form_context_name = "security_policy_form"

    def form_allowed(self) -> bool:
        return self.org.parent_id is None and self.access.is_admin_of(self.org)

    def perform(self, form: forms.Form):
        org = security_policy.security_policy_org_get(
            access=self.access, org_id=self.org.id, write=True
        )
        return security_policy.security_policy_update(
            access=self.access,
            org=org,
            mfa_required=form.cleaned_data["mfa_required"],
            sso_enforced=form.cleaned_data["sso_enforced"],
            meta=self.meta(),
        )

    def success_message(self, result) -> str:
        sso = "; single sign-on enforced" if result.sso_enforced else ""
        return f"Sign-in policy saved: {POLICY_SAVED[result.mfa_required]}{sso}."
