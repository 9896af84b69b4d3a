"""The caller's own authorized apps (SPEC §4): `GET /accounts/api/users/me/connectedApplications`
and `DELETE …/{client_id}`, which revokes the authorization and kills its tokens at once.

A session may do both. A bearer token needs `profile`, `read:full` or `full` to list and `full`
to revoke; an app acting on its own behalf has no user, so no authorized apps to see.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api import AccountsAPIView
from accounts.catalog import SpecialScope
from connected_apps import selectors
from connected_apps.models import Authorization
from core.api_support import paginated
from core.schema import INPUT_ERRORS, PAGING, error_responses, list_of

LIST_SCOPES = (SpecialScope.PROFILE.value, SpecialScope.READ_FULL.value)
REVOKE_SCOPES = (SpecialScope.FULL.value,)
APP_TOKEN_REFUSED = "An app acting on its own behalf has no authorized apps."  # noqa: S105
SCOPE_MISSING = "This token needs one of these scopes: {scopes}."


def authorization_data(authorization: Authorization) -> dict[str, Any]:
    app = authorization.app
    return {
        "client_id": app.client_id,
        "client_name": app.name,
        "website_url": app.website_url,
        "owner_org_id": str(app.owner_org_id),
        "scopes": list(authorization.scopes),
        "authorized_at": authorization.created_at,
        "last_used_at": getattr(authorization, "last_used", authorization.last_used_at),
    }


class AuthorizedAppOutput(serializers.Serializer):
    """OpenAPI only: what `authorization_data` answers."""

    client_id = serializers.CharField()
    client_name = serializers.CharField()
    website_url = serializers.CharField(allow_blank=True)
    owner_org_id = serializers.UUIDField()
    scopes = serializers.ListField(child=serializers.CharField(), help_text="As allowed.")
    authorized_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(
        allow_null=True, help_text="When a token was last issued to the app for the caller."
    )


TAG = "My apps"


class MyConnectedAppsAPIView(AccountsAPIView):
    """Checks what a bearer token may do here; `full` always does (TokenPrincipal.allows)."""

    token_scopes: tuple[str, ...] = ()

    def initial(self, request: Request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        principal = request.auth
        if principal is None or not hasattr(principal, "allows"):
            return  # a session
        if principal.is_app_token:
            raise PermissionDenied(APP_TOKEN_REFUSED)
        if not any(principal.allows(scope) for scope in self.token_scopes):
            scopes = ", ".join(sorted({*self.token_scopes, SpecialScope.FULL.value}))
            raise PermissionDenied(SCOPE_MISSING.format(scopes=scopes))


class MyConnectedAppsAPI(MyConnectedAppsAPIView):
    token_scopes = LIST_SCOPES

    @extend_schema(
        tags=[TAG],
        summary="Apps the caller authorized",
        description="Live authorizations only. A bearer token needs `profile`, `read:full` or "
        "`full`.",
        parameters=PAGING,
        responses={200: list_of(AuthorizedAppOutput), **error_responses(*INPUT_ERRORS)},
    )
    def get(self, request: Request) -> Response:
        authorizations = selectors.user_authorization_list(user=request.user)
        return Response(paginated(request, authorizations, authorization_data))
