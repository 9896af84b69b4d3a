"""django-allauth glue: a signup creates a root organization with the new user as its admin."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django import forms

from accounts.services import organization_signup
from audit.services import RequestMeta
from core.cache import SIGN_IN_COUNTERS_AWAY, redis_status
from core.client_ip import client_ip
from core.mail import MAIL_ERRORS, MailUnavailable


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request, user, form, commit=True):
        data = form.cleaned_data
        result = organization_signup(
            org_name=data["organization_name"],
            username=data["username"],
            email=data["email"],
            password=data["password1"],
            first_name=data.get("first_name", ""),
            last_name=data.get("last_name", ""),
            meta=RequestMeta.from_request(request),
        )
        return result.admin

    def get_client_ip(self, request) -> str:
        """The address every other limit uses (core.client_ip, SPEC §10), for allauth's
        rate limits too."""
        return client_ip(request) or super().get_client_ip(request)

    def pre_authenticate(self, request, **credentials) -> None:
        """allauth's failed-sign-in limit lives in Redis: while Redis is away the form says
        so and checks no password (it would be unthrottled), instead of allauth's "too many
        attempts" after waiting a second for a lock it cannot take."""
        if redis_status() == "degraded":
            raise forms.ValidationError(SIGN_IN_COUNTERS_AWAY)
        super().pre_authenticate(request, **credentials)

    def _get_login_attempts_cache_key(self, request, **credentials) -> str:
        # SPEC §10: allauth locks an identifier out after its failed sign-ins, wherever they
        # came from, so anyone could keep a user out of the portal; per (identifier, client
        # address) the lock falls on the guesser's own address only.
        key = super()._get_login_attempts_cache_key(request, **credentials)
        return f"{key}:{self.get_client_ip(request)}"

    def send_mail(self, template_prefix, email, context) -> None:
        """allauth's mail (password reset, email confirmation): a mail server that is away,
        refuses or times out is a 503 with Retry-After (core.mail), not a 500."""
        try:
            super().send_mail(template_prefix, email, context)
        except MAIL_ERRORS as error:
            raise MailUnavailable(str(error)) from error
