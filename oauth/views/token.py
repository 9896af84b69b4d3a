"""Token, revocation and introspection endpoints (RFC 6749 §3.2, RFC 7009, RFC 7662).

All three take `application/json` as well as form bodies (SPEC §4) and answer every problem
with an RFC 6749 §5.2 JSON error: a malformed or non-object body, repeated parameters, a query
string, another method than POST, and anything unexpected (`server_error`), never an HTML page.
Responses are never cached (RFC 6749 §5.1).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from oauth2_provider.views import IntrospectTokenView, RevokeTokenView, TokenView

from core.api_errors import DATABASE_UNAVAILABLE, RETRY_AFTER_SECONDS
from oauth.backends import EndpointContext, MalformedBody, parse_oauth_body
from oauth.engine.endpoint import refusal_audit, token_response
from oauth.engine.introspection import introspection_response
from oauth.errors import (
    BASIC_CHALLENGE,
    InvalidRequest,
    MethodNotAllowed,
    ServerError,
    TemporarilyUnavailable,
    error_code_of,
)
from oauth.issuance import request_meta
from oauth.metrics import token_answer_count
from oauth.ratelimit import (
    token_request_rate_limited,
)

log = logging.getLogger(__name__)


def oauth_error_code(response: HttpResponse) -> str:
    """The RFC 6749 §5.2 `error` of a JSON error response ("" for anything else)."""
    return error_code_of(getattr(response, "content", b""))


def no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


def guarded(request, handle: Callable[[HttpRequest], HttpResponse | None]) -> HttpResponse | None:
    """`handle(request)`, never cached, and never an HTML error page: an oversize body is a
    413; a database that is busy or away is a 503 to retry (RFC 6749 §4.1.2.1's
    temporarily_unavailable); anything else a JSON server_error. None (`handle` had nothing
    to answer) stays None."""
    try:
        response = handle(request)
    except (RequestDataTooBig, TooManyFieldsSent):
        response = InvalidRequest("The request body is too large.", status_code=413).response()
    except SuspiciousOperation:  # a foreign Host, a forged header Django refuses
        response = InvalidRequest("The request is not acceptable.").response()
    except DATABASE_UNAVAILABLE:
        log.exception("Database unavailable at %s", request.path)
        unavailable = TemporarilyUnavailable()
        unavailable.retry_after = RETRY_AFTER_SECONDS
        response = unavailable.response()
    except Exception:
        log.exception("Unexpected error at %s", request.path)
        response = ServerError().response()
    return no_store(response) if response is not None else None


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(login_not_required, name="dispatch")
class OAuthEndpointMixin:
    """POST only, a strictly parsed body in `request.doorman_params`, JSON errors only."""

    endpoint_name = "token"

    def dispatch(self, request, *args, **kwargs):
        return guarded(request, self._checked_dispatch)

    def _checked_dispatch(self, request) -> HttpResponse:
        if request.method != "POST":
            return MethodNotAllowed().response()
        if request.META.get("QUERY_STRING"):
            # RFC 6749 §3.2 / RFC 7009 §2.1: parameters go in the body.
            return InvalidRequest("URL query parameters are not allowed.").response()
        try:
            params = parse_oauth_body(request)
        except MalformedBody as exc:
            return InvalidRequest(str(exc)).response()
        names = [name for name, _ in params]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            # RFC 6749 §3.2: parameters MUST NOT be included more than once.
            return InvalidRequest(f"Repeated parameter: {repeated[0][:64]}.").response()
        request.doorman_params = params
        limited = self._rate_limited(request)
        if limited is not None:
            return limited
        request.doorman_context = EndpointContext.for_request(request)
        return self.post(request)

    def _rate_limited(self, request) -> HttpResponse | None:
        """A 429 when this request is over a rate limit (counted before any database work)."""
        return None

    def _finish(self, request, response: HttpResponse) -> HttpResponse:
        """RFC 6749 §5.2: the client authenticates with Basic, not Bearer; 429's Retry-After;
        a refusal of a known app is audited."""
        if response.content and not response.get("Content-Type", "").startswith("application/json"):
            # oauthlib's errors raised while saving a token come without their headers.
            response["Content-Type"] = "application/json"
        if response.status_code == 401:
            response["WWW-Authenticate"] = BASIC_CHALLENGE
        retry_after = request.doorman_context.retry_after
        if response.status_code in (429, 503) and retry_after:
            response["Retry-After"] = str(retry_after)
        if response.status_code >= 400 and not request.doorman_context.refusal_recorded:
            self._record_refusal(request, response)
        return response

    def _refusal_details(self, request) -> dict:
        return {"endpoint": self.endpoint_name}

    def _record_refusal(self, request, response: HttpResponse) -> None:
        refusal_audit(
            request.doorman_context,
            oauth_error_code(response),
            self._refusal_details(request),
            request_meta(request.META),
        )


class DoormanTokenView(OAuthEndpointMixin, TokenView):
    def dispatch(self, request, *args, **kwargs):
        response = super().dispatch(request, *args, **kwargs)
        # A request refused before its body was read has no grant type (`other`).
        params = getattr(request, "doorman_params", ())
        grant_type = next((value for name, value in params if name == "grant_type"), None)
        status = response.status_code
        token_answer_count(grant_type, status, oauth_error_code(response) if status != 200 else "")
        return response

    def _rate_limited(self, request) -> HttpResponse | None:
        return token_request_rate_limited(request, dict(request.doorman_params))

    @method_decorator(sensitive_post_parameters("password", "client_secret"))
    def post(self, request, *args, **kwargs) -> HttpResponse:
        response = token_response(request, dict(request.doorman_params), request.doorman_context)
        return self._finish(request, response)

    def _refusal_details(self, request) -> dict:
        return {"grant_type": dict(request.doorman_params).get("grant_type", "")[:100]}


class DoormanRevokeView(OAuthEndpointMixin, RevokeTokenView):
    endpoint_name = "revocation"

    def post(self, request, *args, **kwargs) -> HttpResponse:
        response = self._finish(request, super().post(request, *args, **kwargs))
        if response.status_code == 200 and not response.content:
            # RFC 7009 §2.2: the body is ignored; still, an API never answers text/html.
            return JsonResponse({}, status=200)
        return response


class DoormanIntrospectView(OAuthEndpointMixin, IntrospectTokenView):
    endpoint_name = "introspection"

    def post(self, request, *args, **kwargs) -> HttpResponse:
        params = dict(request.doorman_params)
        return introspection_response(request, params, request.doorman_context)
