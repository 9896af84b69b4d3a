"""The sign-in policy API (SPEC §11): `GET,PUT /accounts/api/organizations/{orgId}/
securityPolicy`. Views are thin: accounts.security_policy reads and writes."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import security_policy
from accounts.api import AccountsAPIView
from accounts.serializers import SecurityPolicyIO
from core.api_support import validated

ADMIN_NOTE = (
    "Organization Administrators of the root org `org_id`, with a session or a `full` token "
    "(`read:full` may read)."
)


@extend_schema(tags=["Organizations"])
class SecurityPolicyAPI(AccountsAPIView):
    @extend_schema(
        summary="The org's sign-in policy", description=ADMIN_NOTE, responses=SecurityPolicyIO
    )
    def get(self, request: Request, org_id: str) -> Response:
        org = security_policy.security_policy_org_get(
            access=self.access, org_id=org_id, write=False
        )
        return Response(SecurityPolicyIO(security_policy.security_policy_get(org=org)).data)

    @extend_schema(
        summary="Change the sign-in policy",
        description=f"{ADMIN_NOTE} Applies from each member's next sign-in and next "
        "authorization request: a member it covers signs in with a second factor, and the "
        "password grant and POST /accounts/login answer interaction_required for them.",
        request=SecurityPolicyIO,
        responses=SecurityPolicyIO,
    )
    def put(self, request: Request, org_id: str) -> Response:
        org = security_policy.security_policy_org_get(access=self.access, org_id=org_id, write=True)
        body = validated(SecurityPolicyIO, request)
        policy = security_policy.security_policy_update(
            access=self.access, org=org, meta=self.meta, **body
        )
        return Response(SecurityPolicyIO(policy).data)
