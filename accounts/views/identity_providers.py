"""An identity provider's page: its settings and the members linked to it (unlink asks first)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.generic import FormView, TemplateView

from accounts import selectors, services
from accounts.catalog import Permission
from accounts.portal_forms import IdentityLinkForm, SsoProviderForm, add_service_errors
from accounts.services.identity import SSO_NEEDS_ROOT_ADMIN
from accounts.sso import callback_urls, sso_connection_test
from accounts.sso_domains import domain_rows, domains_verify, record_value
from accounts.views.mixins import OrganizationMixin


class IdentityProviderMixin(OrganizationMixin):
    """A page about one identity provider of the org; links are for administrators only."""

    nav_section = "organization"

    def load(self) -> None:
        super().load()
        self.provider = selectors.identity_provider_get(
            access=self.access, org=self.org, provider_id=self.kwargs["provider_id"]
        )
        # As identity_link_create decides: the root org's administrator only.
        self.may_link = self.access.holds_everything_in(self.org.root_organization)

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(provider=self.provider, may_link=self.may_link)
        if self.provider.is_sso:
            context["sp"] = callback_urls(self.request, self.provider)
            context["domain_record_value"] = record_value(self.provider)
            context["domain_rows"] = domain_rows(self.provider)
        return context

    def detail_url(self) -> str:
        return reverse("portal:identity_provider_detail", args=[self.org.id, self.provider.id])


class IdentityProviderDetailView(IdentityProviderMixin, TemplateView):
    """The provider's id and the members it reaches (SPEC §5: only linked users)."""

    template_name = "accounts/identity_provider_detail.html"

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        can_read_users = self.access.can(Permission.READ_USERS, self.org)
        context["links"] = (
            selectors.identity_link_list(access=self.access, provider=self.provider)
            if can_read_users
            else None
        )
        if self.may_link:
            context.setdefault("link_form", IdentityLinkForm())
        return context

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        form = IdentityLinkForm(request.POST)
        if not self.may_link:
            raise PermissionDenied(services.IDENTITY_LINK_NEEDS_ADMIN)
        if form.is_valid():
            user = (
                selectors.user_list(access=self.access, org=self.org)
                .filter(username__iexact=form.cleaned_data["username"])
                .first()
            )
            if user is None:
                form.add_error("username", "No member of this organization has that username.")
            else:
                try:
                    services.identity_link_create(
                        access=self.access,
                        provider=self.provider,
                        user=user,
                        subject=form.cleaned_data["subject"],
                        meta=self.meta(),
                    )
                except ValidationError as exc:
                    add_service_errors(form, exc)
                    return self.render_to_response(
                        self.get_context_data(link_form=form), status=400
                    )
                messages.success(request, f"{user.username} linked to {self.provider.name}.")
                return HttpResponseRedirect(self.detail_url())
        return self.render_to_response(self.get_context_data(link_form=form), status=400)


class SsoProviderCreateView(OrganizationMixin, FormView):
    """Set up company SSO (root org's administrators with full access: the service decides,
    the page is not shown to anyone else)."""

    template_name = "accounts/sso_provider_form.html"
    form_class = SsoProviderForm
    nav_section = "organization"

    def load(self) -> None:
        super().load()
        if not self.access.holds_everything_in(self.org.root_organization):
            raise PermissionDenied(SSO_NEEDS_ROOT_ADMIN)

    def form_valid(self, form: SsoProviderForm) -> HttpResponse:
        try:
            provider = services.identity_provider_create(
                access=self.access,
                org=self.org,
                name=form.cleaned_data["name"],
                kind=form.cleaned_data["type"],
                settings=form.settings(),
                meta=self.meta(),
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
            return self.render_to_response(self.get_context_data(form=form), status=400)
        messages.success(
            self.request,
            f"{provider.name} set up. Register Doorman at the identity provider with the "
            "values below, then test the connection.",
        )
        return HttpResponseRedirect(
            reverse("portal:identity_provider_detail", args=[self.org.id, provider.id])
        )

    def form_invalid(self, form: SsoProviderForm) -> HttpResponse:
        return self.render_to_response(self.get_context_data(form=form), status=400)


class SsoProviderSettingsView(IdentityProviderMixin, FormView):
    """Change an SSO provider's settings (the secret kept when left empty)."""

    template_name = "accounts/sso_provider_form.html"
    form_class = SsoProviderForm

    def load(self) -> None:
        super().load()
        if not self.provider.is_sso or not self.may_link:
            raise PermissionDenied(SSO_NEEDS_ROOT_ADMIN)

    def get_initial(self) -> dict[str, Any]:
        return SsoProviderForm.initial_for(self.provider)

    def get_form(self, form_class=None) -> SsoProviderForm:
        form = super().get_form(form_class)
        # Name and type are fixed once set up.
        for name in ("name", "type"):
            form.fields[name].disabled = True
        return form

    def form_valid(self, form: SsoProviderForm) -> HttpResponse:
        try:
            services.identity_provider_update(
                access=self.access,
                provider=self.provider,
                settings=form.settings(),
                meta=self.meta(),
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
            return self.form_invalid(form)
        messages.success(self.request, f"{self.provider.name}: settings saved.")
        return HttpResponseRedirect(self.detail_url())

    def form_invalid(self, form: SsoProviderForm) -> HttpResponse:
        return self.render_to_response(self.get_context_data(form=form), status=400)


class SsoConnectionTestView(IdentityProviderDetailView):
    """POST: check the provider's settings against the live provider; the provider's page
    shows what each check found."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        checks = sso_connection_test(access=self.access, provider=self.provider)
        context = self.get_context_data()
        context["checks"] = checks
        context["checks_ok"] = all(check.ok for check in checks)
        return self.render_to_response(context)


class SsoDomainsVerifyView(IdentityProviderDetailView):
    """POST: look for the domains' DNS proofs; the provider's page shows what was found."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        checks = domains_verify(access=self.access, provider=self.provider, meta=self.meta())
        context = self.get_context_data()
        context["domain_checks"] = checks
        return self.render_to_response(context)


class IdentityLinkDeleteView(IdentityProviderMixin, TemplateView):
    """GET asks for confirmation; POST unlinks."""

    template_name = "accounts/identity_link_confirm.html"

    def load(self) -> None:
        super().load()
        if not self.may_link:
            raise PermissionDenied(services.IDENTITY_LINK_NEEDS_ADMIN)
        self.subject = selectors.user_get(
            access=self.access, org=self.org, user_id=self.kwargs["user_id"]
        )

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["subject"] = self.subject
        return context

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        services.identity_link_delete(
            access=self.access, provider=self.provider, user=self.subject, meta=self.meta()
        )
        messages.success(request, f"{self.subject.username} unlinked from {self.provider.name}.")
        return HttpResponseRedirect(self.detail_url())
