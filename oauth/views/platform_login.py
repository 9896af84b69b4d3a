"""`POST /accounts/login`: a user's own platform token (SPEC §4, the seeds' $UserAccessToken).

`{"username", "password"}` as JSON or a form → `{"access_token", "token_type": "bearer",
"expires_in"}`. The token carries `full` for that user, lives as long as other access tokens,
and is stored only as its checksum. Sign-ins are throttled like the password grant. This is
an API taking credentials in its body, not a cookie-authenticated form: no CSRF token.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters

from accounts.factors import SECOND_FACTOR_NEEDED, SSO_NEEDED, password_alone_refused
from accounts.security_policy import sso_required_for
from oauth.backends import MalformedBody, parse_oauth_body
from oauth.errors import (
    InteractionRequired,
    InvalidGrant,
    InvalidRequest,
    MethodNotAllowed,
    TemporarilyUnavailable,
)
from oauth.issuance import platform_token_issue, request_meta
from oauth.ratelimit import limit_address
from oauth.throttle import login_throttle_check, login_throttle_failure, login_throttle_success
from oauth.views.token import guarded


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(login_not_required, name="dispatch")
@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class PlatformLoginView(View):
    def dispatch(self, request, *args, **kwargs):
        return guarded(request, self._post_only)

    def _post_only(self, request) -> HttpResponse:
        if request.method != "POST":
            return MethodNotAllowed().response()
        return self._sign_in(request)

    def _sign_in(self, request) -> HttpResponse:
        try:
            params = dict(parse_oauth_body(request))
        except MalformedBody as exc:
            return InvalidRequest(str(exc)).response()
        username, password = params.get("username"), params.get("password")
        if not username or not password:
            return InvalidRequest("username and password are required.").response()
        address = limit_address(request)
        refusal = login_throttle_check(username=username, address=address)
        if refusal is not None:
            throttled = TemporarilyUnavailable(refusal.description, status_code=refusal.status)
            throttled.retry_after = refusal.retry_after
            return throttled.response()
        user = authenticate(request, username=username, password=password)
        if user is None or not user.is_active:
            login_throttle_failure(username=username, address=address)
            response = InvalidGrant("Invalid username or password.", status_code=401).response()
            del response["WWW-Authenticate"]  # no HTTP scheme applies: credentials go in the body
            return response
        login_throttle_success(username=username, address=address)
        if sso_required_for(user):
            return InteractionRequired(SSO_NEEDED).response()
        if password_alone_refused(user):
            return InteractionRequired(SECOND_FACTOR_NEEDED).response()
        raw, _ = platform_token_issue(user=user, meta=request_meta(request.META))
        return JsonResponse(
            {
                "access_token": raw,
                "token_type": "bearer",
                "expires_in": settings.DOORMAN_ACCESS_TOKEN_LIFETIME,
            }
        )
