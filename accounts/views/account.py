"""The viewer's account page (SPEC §8, §11): who they are and where they belong, how they sign
in, where they are signed in and which apps they allowed, each with the way to the page that
manages it (allauth's under /auth/, Sign-in & sessions, My apps). Only the names are edited
here.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.generic import TemplateView

from accounts import selectors, services, sign_in_sessions
from accounts.models import User
from accounts.portal_forms import ProfileForm
from accounts.views.mixins import PortalMixin, ServiceFormMixin


@method_decorator(never_cache, name="dispatch")
class AccountView(PortalMixin, TemplateView):
    template_name = "accounts/account.html"
    nav_section = "account"

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        user = self.request.user
        context.setdefault(
            "profile_form",
            ProfileForm(initial={"first_name": user.first_name, "last_name": user.last_name}),
        )
        context.update(
            memberships=selectors.account_memberships(access=self.access),
            identity_providers=selectors.account_identity_providers(user=user),
            factors=selectors.account_factors(user=user),
            has_password=user.has_usable_password(),
            sessions=sign_in_sessions.user_sessions(
                user=user, current_key=self.request.session.session_key
            ),
        )
        return context


class ProfileUpdateView(ServiceFormMixin, AccountView):
    """The profile form, posted to its own URL; errors re-render the page (400) with what was
    typed."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        form = ProfileForm(request.POST)
        if form.is_valid():
            return self.form_valid(form)
        return self.form_invalid(form)

    def form_invalid(self, form: forms.Form) -> HttpResponse:
        return self.render_to_response(self.get_context_data(profile_form=form), status=400)

    def perform(self, form: forms.Form) -> User:
        return services.user_profile_update(
            user=self.request.user,
            first_name=form.cleaned_data["first_name"],
            last_name=form.cleaned_data["last_name"],
            meta=self.meta(),
        )

    def success_message(self, result: User) -> str:
        return "Your name is saved."

    def get_success_url(self) -> str:
        return reverse("portal:account")
