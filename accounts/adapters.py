"""django-allauth glue: a signup creates a root organization with the new user as its admin."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter

from accounts.services import organization_signup
from audit.services import RequestMeta


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
