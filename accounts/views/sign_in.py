"""The sign-in page: allauth's, with home-realm discovery (SPEC §11).

The page asks for a username or email. Given one without a password, it sends the person to
their organization's identity provider when there is one (an email domain an SSO provider
routes, or a username linked to one, accounts.sso.home_realm); otherwise it asks for the
password. A username and password sign in as before.
"""

from __future__ import annotations

from allauth.account.views import LoginView
from django.http import HttpRequest, HttpResponse

from accounts.sso import home_realm, sso_sign_in_redirect


class SignInView(LoginView):
    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        login = request.POST.get("login", "")
        if login.strip() and not request.POST.get("password"):
            provider = home_realm(login)
            if provider is not None:
                return sso_sign_in_redirect(request, provider, self.get_next_url() or None)
        return super().post(request, *args, **kwargs)
