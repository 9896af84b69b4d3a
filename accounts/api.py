"""The accounts JSON API (SPEC §4): profile, organizations, BGs, environments, users,
permissions and identity providers. Views are thin: selectors read, services write."""

from __future__ import annotations

from functools import cached_property

from django.core.exceptions import PermissionDenied, ValidationError
from drf_spectacular.utils import extend_schema_view
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import api_schema as docs
from accounts import selectors, services
from accounts.access import Access
from accounts.serializers import (
    EnvironmentInput,
    IdentityLinkInput,
    NameInput,
    PermissionsInput,
    UserInput,
    environment_data,
    identity_link_data,
    identity_provider_data,
    organization_data,
    user_data,
)
from audit.services import RequestMeta
from core.api_support import JSONParser, paginated, renamed_fields, validated

# Service field names -> the API's camelCase names.
USER_FIELD_NAMES = {"first_name": "firstName", "last_name": "lastName"}


class AccountsAPIView(APIView):
    """Base view: `self.access` is the caller's permission check, built once per request."""

    parser_classes = [JSONParser]

    @cached_property
    def access(self) -> Access:
        # A bearer token brings its own effective power (oauth.principals); a session has all
        # of the user's.
        token_access = getattr(self.request.auth, "access", None)
        return token_access or Access(user=self.request.user)

    @property
    def meta(self) -> RequestMeta:
        return RequestMeta.from_request(self.request)


PROFILE_SCOPES = ("profile", "read:full")


@extend_schema_view(get=docs.profile_read)
class ProfileAPI(AccountsAPIView):
    """The caller's profile; a bearer token needs `profile` (or `full`/`read:full`). An app
    acting on its own behalf reads its creator's profile (SPEC §3)."""

    def get(self, request: Request) -> Response:
        token_allows = getattr(request.auth, "allows", None)
        if token_allows is not None and not any(token_allows(s) for s in PROFILE_SCOPES):
            raise PermissionDenied("This token does not hold the profile scope.")
        return Response(user_data(request.user))


@extend_schema_view(
    get=docs.organization_read, put=docs.organization_rename, patch=docs.organization_rename
)
class OrganizationAPI(AccountsAPIView):
    def get(self, request: Request, org_id: str) -> Response:
        org = selectors.organization_read(access=self.access, org_id=org_id)
        return Response(organization_data(org))

    def put(self, request: Request, org_id: str) -> Response:
        org = selectors.organization_get(access=self.access, org_id=org_id)
        body = validated(NameInput, request)
        org = services.organization_rename(
            access=self.access, org=org, name=body["name"], meta=self.meta
        )
        return Response(organization_data(org))

    patch = put


@extend_schema_view(get=docs.business_group_list, post=docs.business_group_create)
class BusinessGroupsAPI(AccountsAPIView):
    def get(self, request: Request, org_id: str) -> Response:
        org = selectors.organization_get(access=self.access, org_id=org_id)
        groups = selectors.business_group_list(access=self.access, org=org)
        return Response(paginated(request, groups, organization_data))

    def post(self, request: Request, org_id: str) -> Response:
        org = selectors.organization_get(access=self.access, org_id=org_id)
        body = validated(NameInput, request)
        group = services.business_group_create(
            access=self.access, parent=org, name=body["name"], meta=self.meta
        )
        return Response(organization_data(group), status=status.HTTP_201_CREATED)


@extend_schema_view(get=docs.environment_list, post=docs.environment_create)
class EnvironmentsAPI(AccountsAPIView):
    def get(self, request: Request, org_id: str) -> Response:
        org = selectors.organization_get(access=self.access, org_id=org_id)
        environments = selectors.environment_list(access=self.access, org=org)
        return Response(paginated(request, environments, environment_data))

    def post(self, request: Request, org_id: str) -> Response:
        org = selectors.organization_get(access=self.access, org_id=org_id)
        body = validated(EnvironmentInput, request)
        environment = services.environment_create(
            access=self.access, org=org, name=body["name"], type=body["type"], meta=self.meta
        )
        return Response(environment_data(environment), status=status.HTTP_201_CREATED)


@extend_schema_view(get=docs.user_list, post=docs.user_create)
class UsersAPI(AccountsAPIView):
    def get(self, request: Request, org_id: str) -> Response:
        org = selectors.organization_get(access=self.access, org_id=org_id)
        users = selectors.user_list(
            access=self.access, org=org, search=request.query_params.get("search", "")
        )
        return Response(paginated(request, users, user_data))

    def post(self, request: Request, org_id: str) -> Response:
        org = selectors.organization_get(access=self.access, org_id=org_id)
        body = validated(UserInput, request)
        try:
            user = services.user_create(
                access=self.access,
                org=org,
                username=body["username"],
                email=body["email"],
                password=body["password"],
                first_name=body.get("firstName", ""),
                last_name=body.get("lastName", ""),
                meta=self.meta,
            )
        except ValidationError as exc:
            raise renamed_fields(exc, USER_FIELD_NAMES) from exc
        return Response(user_data(user), status=status.HTTP_201_CREATED)


@extend_schema_view(get=docs.user_read)
class UserAPI(AccountsAPIView):
    def get(self, request: Request, org_id: str, user_id: str) -> Response:
        org = selectors.organization_get(access=self.access, org_id=org_id)
        user = selectors.user_get(access=self.access, org=org, user_id=user_id)
        return Response(user_data(user))


@extend_schema_view(get=docs.user_permissions_read, put=docs.user_permissions_set)
class UserPermissionsAPI(AccountsAPIView):
    def _data(self, org, user) -> dict:
        held = selectors.user_permissions_get(access=self.access, org=org, user=user)
        return {
            "permissions": held.permissions,
            "environments": held.environments,
            "role": held.role,
        }

    def get(self, request: Request, org_id: str, user_id: str) -> Response:
        org = selectors.organization_get(access=self.access, org_id=org_id)
        user = selectors.user_get(access=self.access, org=org, user_id=user_id)
        return Response(self._data(org, user))

    def put(self, request: Request, org_id: str, user_id: str) -> Response:
        org = selectors.organization_get(access=self.access, org_id=org_id)
        user = selectors.user_get(access=self.access, org=org, user_id=user_id)
        body = validated(PermissionsInput, request)
        services.user_permissions_set(
            access=self.access,
            org=org,
            user=user,
            # SPEC §4: PUT replaces what the user holds there; what the body leaves out
            # (a role, permissions) is taken away.
            permissions=body.get("permissions") or [],
            environments=body.get("environments"),
            role=body.get("role") or None,
            set_role=True,
            meta=self.meta,
        )
        return Response(self._data(org, user))


@extend_schema_view(get=docs.identity_provider_list, post=docs.identity_provider_create)
class IdentityProvidersAPI(AccountsAPIView):
    def get(self, request: Request, org_id: str) -> Response:
        org = selectors.organization_get(access=self.access, org_id=org_id)
        providers = selectors.identity_provider_list(access=self.access, org=org)
        return Response(paginated(request, providers, identity_provider_data))

    def post(self, request: Request, org_id: str) -> Response:
        org = selectors.organization_get(access=self.access, org_id=org_id)
        body = validated(NameInput, request)
        provider = services.identity_provider_create(
            access=self.access, org=org, name=body["name"], meta=self.meta
        )
        return Response(identity_provider_data(provider), status=status.HTTP_201_CREATED)


@extend_schema_view(get=docs.identity_link_list, post=docs.identity_link_create)
class IdentityLinksAPI(AccountsAPIView):
    """The users an identity provider reaches: only they can be named by its assertions."""

    def get(self, request: Request, org_id: str, provider_id: str) -> Response:
        org = selectors.organization_get(access=self.access, org_id=org_id)
        provider = selectors.identity_provider_get(
            access=self.access, org=org, provider_id=provider_id
        )
        links = selectors.identity_link_list(access=self.access, provider=provider)
        return Response(paginated(request, links, identity_link_data))

    def post(self, request: Request, org_id: str, provider_id: str) -> Response:
        org = selectors.organization_get(access=self.access, org_id=org_id)
        provider = selectors.identity_provider_get(
            access=self.access, org=org, provider_id=provider_id
        )
        body = validated(IdentityLinkInput, request)
        user = selectors.user_get(access=self.access, org=org, user_id=body["user_id"])
        link = services.identity_link_create(
            access=self.access, provider=provider, user=user, meta=self.meta
        )
        return Response(identity_link_data(link), status=status.HTTP_201_CREATED)


@extend_schema_view(delete=docs.identity_link_delete)
class IdentityLinkAPI(AccountsAPIView):
    def delete(self, request: Request, org_id: str, provider_id: str, user_id: str) -> Response:
        org = selectors.organization_get(access=self.access, org_id=org_id)
        provider = selectors.identity_provider_get(
            access=self.access, org=org, provider_id=provider_id
        )
        user = selectors.user_get(access=self.access, org=org, user_id=user_id)
        services.identity_link_delete(
            access=self.access, provider=provider, user=user, meta=self.meta
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
