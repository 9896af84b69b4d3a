"""The caller's own portal sessions (SPEC §11): `GET, DELETE /accounts/api/profile/sessions`
(list; end all, which also revokes the platform tokens) and `DELETE …/sessions/{id}` (end
one). A session or the user's `full` token; never an app acting on its own behalf."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import sign_in_sessions
from accounts.api import AccountsAPIView
from accounts.serializers import SessionOutput
from core.api_support import paginated
from core.schema import PAGING, list_of

TAG = "Profile"
NEEDS_FULL = "Your sessions are yours: use a session or your full token."
ENDED = OpenApiResponse(description="Ended; no body.")


class OwnSessionsAPIView(AccountsAPIView):
    def owner(self, request: Request):
        if getattr(request.auth, "is_app_token", False) or not self.access.full_credential:
            raise PermissionDenied(NEEDS_FULL)
        return request.user


@extend_schema(tags=[TAG])
class SessionsAPI(OwnSessionsAPIView):
    @extend_schema(
        operation_id="profile_sessions_list",
        summary="Where I am signed in",
        parameters=PAGING,
        responses=list_of(SessionOutput),
    )
    def get(self, request: Request) -> Response:
        current = getattr(getattr(request, "session", None), "session_key", None)
        rows = sign_in_sessions.user_sessions(user=self.owner(request), current_key=current)
        return Response(paginated(request, rows, SessionOutput().to_representation))

    @extend_schema(
        operation_id="profile_sessions_end_all",
        summary="Sign out everywhere",
        description="Ends every portal session (this one too) and revokes the platform tokens.",
        responses={204: ENDED},
    )
    def delete(self, request: Request) -> Response:
        sign_in_sessions.user_sessions_end_all(user=self.owner(request), meta=self.meta)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=[TAG])
class SessionAPI(OwnSessionsAPIView):
    @extend_schema(
        operation_id="profile_session_end", summary="End one session", responses={204: ENDED}
    )
    def delete(self, request: Request, session_id: str) -> Response:
        sign_in_sessions.user_session_end(
            user=self.owner(request), session_id=session_id, meta=self.meta
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
