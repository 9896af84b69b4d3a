"""`POST /accounts/logout` (SPEC §4): a user ends their own platform token.

The platform token of `POST /accounts/login` is sent as the bearer token; it is revoked at
once, on every worker (oauth.services.access_token_revoke), and the revocation is audited
like any other (TOKEN_REVOKED, reason `logout`). `204 No Content`.

Only platform tokens: an app's token is refused (`400`) and left alone. An app revokes its
tokens at the revocation endpoint, authenticated as itself (RFC 7009 §2.1), so that whoever
merely holds a copy of an app's access token cannot end the user's session with the app
(its refresh tokens go with it). Bearer-authenticated only, like every resource API: no
session cookie, hence no CSRF token; errors are the resource APIs' JSON (RFC 6750 §3.1
challenges on `401`).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.services import RequestMeta
from core.schema import ApiError, error_responses
from oauth.authentication import BearerTokenAuthentication
from oauth.services import access_token_revoke

LOGOUT_APPS_REFUSED = (
    "This is an app's access token: the app revokes it at "
    "/accounts/api/v2/oauth2/revoke, authenticated as itself (RFC 7009)."
)


class NotAPlatformToken(exceptions.APIException):
    status_code = 400
    default_detail = LOGOUT_APPS_REFUSED
    default_code = "invalid_request"


class PlatformLogoutAPI(APIView):
    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [IsAuthenticated]
    http_method_names = ["post"]

    def initial(self, request: Request, *args, **kwargs) -> None:
        # Another method is a 405 whoever asks, before any token is looked at.
        if request.method.lower() not in self.http_method_names:
            raise exceptions.MethodNotAllowed(request.method)
        super().initial(request, *args, **kwargs)

    @extend_schema(
        tags=["OAuth 2.0 and OpenID Connect"],
        operation_id="platform_logout",
        summary="Revoke the caller's own platform token",
        description="The bearer token from `POST /accounts/login` stops working at once, "
        "everywhere. An app's access token is refused (400): apps revoke their tokens at "
        "the revocation endpoint (RFC 7009).",
        request=None,
        responses={
            204: OpenApiResponse(description="Revoked."),
            400: OpenApiResponse(response=ApiError, description=LOGOUT_APPS_REFUSED),
            **error_responses(401),
        },
    )
    def post(self, request: Request) -> Response:
        principal = request.auth
        if principal.app is not None:
            raise NotAPlatformToken()
        access_token_revoke(
            token=principal.token, reason="logout", meta=RequestMeta.from_request(request)
        )
        return Response(status=204)
