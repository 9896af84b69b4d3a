"""The accounts JSON API (SPEC §4): profile, organizations, BGs, environments, users,
permissions and identity providers. Views are thin: selectors read, services write."""

from __future__ import annotations

from functools import cached_property

from django.core.exceptions import PermissionDenied, ValidationError
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.access import Access
from accounts.serializers import (
    EnvironmentInput,
    EnvironmentOutput,
    IdentityLinkInput,
    IdentityLinkOutput,
    IdentityProviderInput,
    IdentityProviderOutput,
    IdentityProviderSettingsInput,
    NameInput,
    OrganizationOutput,
    PermissionsInput,
    UserEnabledInput,
    UserInput,
    UserOutput,
    UserPermissionsOutput,
)
from accounts.sso import sso_connection_test
from accounts.sso_domains import domains_verify
from audit.services import RequestMeta
from core.api_support import JSONParser, OutputSerializer, paginated, renamed_fields, validated
from core.schema import PAGING, SEARCH, ResourceAutoSchema, error_responses, list_of

# Service field names -> the API's camelCase names.
USER_FIELD_NAMES = {"first_name": "firstName", "last_name": "lastName"}


class AccountsAPIView(APIView):
    """Base view: `self.access` is the caller's permission check, built once per request.

    Its operations document their success answers (`extend_schema`); ResourceAutoSchema adds
    the refusals every one of them may answer (400, 401, 403, 404)."""

    parser_classes = [JSONParser]
    schema = ResourceAutoSchema()

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


@extend_schema(tags=["Profile"])
class ProfileAPI(AccountsAPIView):
    """The caller's profile; a bearer token needs `profile` (or `full`/`read:full`). An app
    acting on its own behalf reads its creator's profile (SPEC §3)."""

    @extend_schema(
        summary="The caller's profile",
        description="Needs `profile` (or `full` / `read:full`) with a bearer token. An app "
        "acting on its own behalf reads the profile of the user who created it.",
        responses=UserOutput,
    )
    def get(self, request: Request) -> Response:
        token_allows = getattr(request.auth, "allows", None)
        if token_allows is not None and not any(token_allows(s) for s in PROFILE_SCOPES):
            raise PermissionDenied("This token does not hold the profile scope.")
        return Response(UserOutput(request.user).data)


@extend_schema(tags=["Organizations"])
class OrganizationAPI(AccountsAPIView):
    @extend_schema(summary="An organization or business group", responses=OrganizationOutput)
    def get(self, request: Request, org_id: str) -> Response:
        org = selectors.organization_read(access=self.access, org_id=org_id)
        return Response(OrganizationOutput(org).data)

    @extend_schema(
        summary="Rename an organization or business group",
        request=NameInput,
        responses=OrganizationOutput,
    )
    def put(self, request: Request, org_id: str) -> Response:
        org = selectors.organization_get(access=self.access, org_id=org_id)
        body = validated(NameInput, request)
        org = services.organization_rename(
            access=self.access, org=org, name=body["name"], meta=self.meta
        )
        return Response(OrganizationOutput(org).data)

    patch = put


@extend_schema(tags=["Organizations"])
class BusinessGroupsAPI(AccountsAPIView):
    @extend_schema(
        summary="The business groups below an organization",
        parameters=PAGING,
        responses=list_of(OrganizationOutput),
    )
    def get(self, request: Request, org_id: str) -> Response:
        org = selectors.organization_get(access=self.access, org_id=org_id)
        groups = selectors.business_group_list(access=self.access, org=org)
        return Response(paginated(request, groups, OrganizationOutput().to_representation))

    @extend_schema(
        summary="Create a business group", request=NameInput, responses={201: OrganizationOutput}
    )
    def post(self, request: Request, org_id: str) -> Response:
        org = selectors.organization_get(access=self.access, org_id=org_id)
        body = validated(NameInput, request)
        group = services.business_group_create(
            access=self.access, parent=org, name=body["name"], meta=self.meta
        )
        return Response(OrganizationOutput(group).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["Environments"])
class EnvironmentsAPI(AccountsAPIView):
    @extend_schema(
        summary="Environments of an organization",
        parameters=PAGING,
        responses=list_of(EnvironmentOutput),
    )
    def get(self, request: Request, org_id: str) -> Response:
        org = selectors.organization_get(access=self.access, org_id=org_id)
        environments = selectors.environment_list(access=self.access, org=org)
        return Response(paginated(request, environments, EnvironmentOutput().to_representation))

    @extend_schema(
        summary="Create an environment",
        request=EnvironmentInput,
        responses={201: EnvironmentOutput},
    )
    def post(self, request: Request, org_id: str) -> Response:
        org = selectors.organization_get(access=self.access, org_id=org_id)
        body = validated(EnvironmentInput, request)
        environment = services.environment_create(
            access=self.access, org=org, name=body["name"], type=body["type"], meta=self.meta
        )
        return Response(EnvironmentOutput(environment).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["Users"])
class UsersAPI(AccountsAPIView):
    @extend_schema(
        summary="Members of an organization",
        parameters=[*PAGING, SEARCH],
        responses=list_of(UserOutput),
    )
    def get(self, request: Request, org_id: str) -> Response:
        org = selectors.organization_get(access=self.access, org_id=org_id)
        users = selectors.user_list(
            access=self.access, org=org, search=request.query_params.get("search", "")
        )
        return Response(paginated(request, users, UserOutput().to_representation))

    @extend_schema(
        summary="Add a member",
        request=UserInput,
        responses={201: UserOutput},
    )
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
        return Response(UserOutput(user).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["Users"])
class UserAPI(AccountsAPIView):
    @extend_schema(summary="A member", responses=UserOutput)
    def get(self, request: Request, org_id: str, user_id: str) -> Response:
        org = selectors.organization_get(access=self.access, org_id=org_id)
        user = selectors.user_get(access=self.access, org=org, user_id=user_id)
        return Response(UserOutput(user).data)

    @extend_schema(
        summary="Disable or enable a member",
        description='`{"enabled": false}` disables the member: their portal sessions end, '
        "their platform tokens are revoked and every app's token for them stops working; "
        "apps acting on their own behalf that they created (which act with their profile) "
        'get no token and their tokens stop working until `{"enabled": true}`. '
        "The root organization's administrators only (full access).",
        request=UserEnabledInput,
        responses=UserOutput,
    )
    def patch(self, request: Request, org_id: str, user_id: str) -> Response:
        org = selectors.organization_get(access=self.access, org_id=org_id)
        user = selectors.user_get(access=self.access, org=org, user_id=user_id)
        body = validated(UserEnabledInput, request)
        user = services.user_enabled_set(
            access=self.access, user=user, enabled=body["enabled"], meta=self.meta
        )
        return Response(UserOutput(user).data)

    @extend_schema(
        summary="Remove a member",
        description="Deletes the member with everything that was theirs: portal sessions, "
        "platform tokens and every app's token for them (refused on the next request), "
        "consents to apps, permissions and roles, sign-in factors, links to identity "
        "providers. Apps they created stay with the organization that owns them (an app "
        "acting on its own behalf reads its creator's profile: its tokens are refused from "
        "then on, by the APIs and introspection, and it gets no new one); the audit log "
        "keeps the event (`user.removed`, with the username) and every earlier one. The "
        "root organization's administrators only (full access), never on themselves; the "
        "root organization keeps an enabled administrator.",
        request=None,
        responses={
            204: OpenApiResponse(description="Removed; no body."),
            **error_responses(400),
        },
    )
    def delete(self, request: Request, org_id: str, user_id: str) -> Response:
        org = selectors.organization_get(access=self.access, org_id=org_id)
        user = selectors.user_get(access=self.access, org=org, user_id=user_id)
        services.user_remove(access=self.access, user=user, meta=self.meta)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["Users"])
class UserPasswordResetAPI(AccountsAPIView):
    @extend_schema(
        summary="Send a member a password reset email",
        description="Emails the member a single-use, expiring password-reset link at their "
        'own address, as the sign-in page\'s "Forgot password" does. The link is never '
        "returned nor recorded. Refused (400) for yourself, for members without a password "
        "(they sign in through an identity provider) and for disabled members; at most "
        f"{services.PASSWORD_RESETS_PER_USER} emails per member an hour (then 429 with "
        "Retry-After); 503 with Retry-After when the mail server does not take it (nothing is "
        "recorded). The root organization's administrators only (full access).",
        request=None,
        responses={
            204: OpenApiResponse(description="Sent; no body."),
            **error_responses(400, 429, 503),
        },
    )
    def post(self, request: Request, org_id: str, user_id: str) -> Response:
        org = selectors.organization_get(access=self.access, org_id=org_id)
        user = selectors.user_get(access=self.access, org=org, user_id=user_id)
        try:
            services.user_password_reset_send(access=self.access, user=user, meta=self.meta)
        except services.PasswordResetRateLimited as exc:
            raise Throttled(wait=exc.retry_after, detail=str(exc)) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["Users"])
class UserPermissionsAPI(AccountsAPIView):
    def _data(self, org, user) -> dict:
        held = selectors.user_permissions_get(access=self.access, org=org, user=user)
        return UserPermissionsOutput(held).data

    @extend_schema(summary="What a user holds in an organization", responses=UserPermissionsOutput)
    def get(self, request: Request, org_id: str, user_id: str) -> Response:
        org = selectors.organization_get(access=self.access, org_id=org_id)
        user = selectors.user_get(access=self.access, org=org, user_id=user_id)
        return Response(self._data(org, user))

    @extend_schema(
        summary="Replace a user's permissions or role in an organization",
        description='`{"permissions": [...], "environments": [...]}`, or '
        '`{"role": "Organization Administrator"}` (`null` removes the role).',
        request=PermissionsInput,
        responses=UserPermissionsOutput,
    )
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


@extend_schema(tags=["Identity providers"])
class IdentityProvidersAPI(AccountsAPIView):
    @extend_schema(
        summary="Identity providers of an organization",
        parameters=PAGING,
        responses=list_of(IdentityProviderOutput),
    )
    def get(self, request: Request, org_id: str) -> Response:
        org = selectors.organization_get(access=self.access, org_id=org_id)
        providers = selectors.identity_provider_list(access=self.access, org=org)
        return Response(paginated(request, providers, IdentityProviderOutput().to_representation))

    @extend_schema(
        summary="Register an identity provider",
        description="`jwt`: a name that jwt-bearer `sub` claims point at (edit:organization). "
        "`oidc` / `saml`: company single sign-on for the org's members (the root org's "
        "Organization Administrator with full access); the response's `sp` says what to "
        "register at the upstream provider. Secrets are never returned.",
        request=IdentityProviderInput,
        responses={201: IdentityProviderOutput},
    )
    def post(self, request: Request, org_id: str) -> Response:
        org = selectors.organization_get(access=self.access, org_id=org_id)
        body = validated(IdentityProviderInput, request)
        provider = services.identity_provider_create(
            access=self.access,
            org=org,
            name=body.pop("name"),
            kind=body.pop("type"),
            settings=body,
            meta=self.meta,
        )
        return Response(
            IdentityProviderOutput(provider, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


@extend_schema(tags=["Identity providers"])
class IdentityProviderAPI(AccountsAPIView):
    @extend_schema(summary="An identity provider", responses=IdentityProviderOutput)
    def get(self, request: Request, org_id: str, provider_id: str) -> Response:
        org = selectors.organization_get(access=self.access, org_id=org_id)
        provider = selectors.identity_provider_get(
            access=self.access, org=org, provider_id=provider_id
        )
        return Response(IdentityProviderOutput(provider, context={"request": request}).data)

    @extend_schema(
        summary="Change an SSO provider's settings",
        description="Replaces the settings whole; the client secret is kept when absent.",
        request=IdentityProviderSettingsInput,
        responses=IdentityProviderOutput,
    )
    def put(self, request: Request, org_id: str, provider_id: str) -> Response:
        org = selectors.organization_get(access=self.access, org_id=org_id)
        provider = selectors.identity_provider_get(
            access=self.access, org=org, provider_id=provider_id
        )
        body = validated(IdentityProviderSettingsInput, request)
        provider = services.identity_provider_update(
            access=self.access, provider=provider, settings=body, meta=self.meta
        )
        return Response(IdentityProviderOutput(provider, context={"request": request}).data)


class ConnectionCheckOutput(OutputSerializer):
    name = serializers.CharField()
    ok = serializers.BooleanField()
    detail = serializers.CharField()


@extend_schema(tags=["Identity providers"])
class IdentityProviderTestAPI(AccountsAPIView):
    @extend_schema(
        summary="Test an SSO provider's connection",
        description="Fetches the provider's discovery document and keys (OIDC) or metadata "
        "(SAML) and checks them against the settings. Writes nothing.",
        request=None,
        responses=inline_serializer(
            "ConnectionTest",
            {"ok": serializers.BooleanField(), "checks": ConnectionCheckOutput(many=True)},
        ),
    )
    def post(self, request: Request, org_id: str, provider_id: str) -> Response:
        org = selectors.organization_get(access=self.access, org_id=org_id)
        provider = selectors.identity_provider_get(
            access=self.access, org=org, provider_id=provider_id
        )
        checks = sso_connection_test(access=self.access, provider=provider)
        return Response(
            {
                "ok": all(check.ok for check in checks),
                "checks": [ConnectionCheckOutput(check).data for check in checks],
            }
        )


class DomainCheckOutput(OutputSerializer):
    domain = serializers.CharField()
    verified = serializers.BooleanField()
    detail = serializers.CharField()


@extend_schema(tags=["Identity providers"])
class IdentityProviderDomainsAPI(AccountsAPIView):
    @extend_schema(
        summary="Verify an SSO provider's email domains",
        description="Looks up the TXT record `_doorman-challenge.<domain>` of each domain for "
        "the provider's `domain_verification.record_value`; a domain routes sign-ins only once "
        "proved (and only for the first provider that proved it).",
        request=None,
        responses=inline_serializer(
            "DomainVerification", {"domains": DomainCheckOutput(many=True)}
        ),
    )
    def post(self, request: Request, org_id: str, provider_id: str) -> Response:
        org = selectors.organization_get(access=self.access, org_id=org_id)
        provider = selectors.identity_provider_get(
            access=self.access, org=org, provider_id=provider_id
        )
        checks = domains_verify(access=self.access, provider=provider, meta=self.meta)
        return Response({"domains": [DomainCheckOutput(check).data for check in checks]})


@extend_schema(tags=["Identity providers"])
class IdentityLinksAPI(AccountsAPIView):
    """The users an identity provider reaches: only they can be named by its assertions."""

    @extend_schema(
        summary="Users an identity provider reaches",
        description="Only linked users can be named by the provider's jwt-bearer assertions "
        "(RFC 7523): those it created, and those an administrator linked.",
        parameters=PAGING,
        responses=list_of(IdentityLinkOutput),
    )
    def get(self, request: Request, org_id: str, provider_id: str) -> Response:
        org = selectors.organization_get(access=self.access, org_id=org_id)
        provider = selectors.identity_provider_get(
            access=self.access, org=org, provider_id=provider_id
        )
        links = selectors.identity_link_list(access=self.access, provider=provider)
        return Response(paginated(request, links, IdentityLinkOutput().to_representation))

    @extend_schema(
        summary="Link a member to an identity provider",
        description="Organization Administrator (with full access) of the provider's org only: "
        "the provider's assertions then sign the member in.",
        request=IdentityLinkInput,
        responses={201: IdentityLinkOutput},
    )
    def post(self, request: Request, org_id: str, provider_id: str) -> Response:
        org = selectors.organization_get(access=self.access, org_id=org_id)
        provider = selectors.identity_provider_get(
            access=self.access, org=org, provider_id=provider_id
        )
        body = validated(IdentityLinkInput, request)
        user = selectors.user_get(access=self.access, org=org, user_id=body["user_id"])
        link = services.identity_link_create(
            access=self.access,
            provider=provider,
            user=user,
            subject=body.get("subject"),
            meta=self.meta,
        )
        return Response(IdentityLinkOutput(link).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["Identity providers"])
class IdentityLinkAPI(AccountsAPIView):
    @extend_schema(
        summary="Unlink a member from an identity provider",
        request=None,
        responses={204: OpenApiResponse(description="Done; no body.")},
    )
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
