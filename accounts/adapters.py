"""django-allauth glue: a signup creates a root organization with the new user as its admin."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter

from accounts.services import organization_signup
from audit.services import RequestMeta
from config.client_ip import client_ip


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
        """The address every other limit uses (config.client_ip, SPEC §10), for allauth's
        rate limits too."""
        return client_ip(request) or super().get_client_ip(request)

    def _get_login_attempts_cache_key(self, request, **credentials) -> str:
        # SPEC §10: allauth locks an identifier out after its failed sign-ins, wherever they
        # came from, so anyone could keep a user out of the portal; per (identifier, client
        # address) the lock falls on the guesser's own address only.
        key = super()._get_login_attempts_cache_key(request, **credentials)
        return f"{key}:{self.get_client_ip(request)}"
