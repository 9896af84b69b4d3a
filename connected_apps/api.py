"""The connected-apps management API (SPEC §4). Views are thin: selectors read, services write.

Every route exists twice, as Anypoint offers it: `/connectedApplications/…` (the app is found
in the caller's tenant) and `/organizations/{orgId}/connectedApplications/…` (the app must be
owned by that org).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import selectors as account_selectors
from accounts.api import AccountsAPIView
from accounts.models import Organization
from connected_apps import selectors, services
from connected_apps.models import ConnectedApp
from connected_apps.serializers import (
    AppChanges,
    AppCreatedOutput,
    AppInput,
    AppOutput,
    AppScopes,
    AppScopesOutput,
    AppSecretOutput,
    AppUsageOutput,
    AppUsageReportOutput,
)
from core.api_support import bool_param, paginated
from core.schema import PAGING, SEARCH, list_of

BODY_NOT_OBJECT = "Expected a JSON object."
TAG = "Connected apps"
INCLUDE_USAGE = OpenApiParameter(
    "includeUsage",
    OpenApiTypes.BOOL,
    description="`true` adds each app's usage figures (`usage`); `false` (the default) does "
    "not. Any other value is a 400.",
)
RESET_SECRET = OpenApiParameter(
    "resetSecret",
    OpenApiTypes.BOOL,
    description="`true` rotates the client secret instead (the body is ignored) and answers "
    "the new secret, shown once; `false` (the default) applies the body. Any other value is a "
    "400.",
)
USAGE_DAYS = OpenApiParameter(
    "days",
    {
        "type": "integer",
        "minimum": 1,
        "maximum": selectors.USAGE_DAYS,
        "default": selectors.USAGE_DAYS,
    },
    description=f"How many days back from today (UTC) the daily figures reach: 1 to "
    f"{selectors.USAGE_DAYS} (the default; no older counts are kept). Anything else is a 400.",
)
NO_CONTENT = OpenApiResponse(description="Done; no body.")
NO_STORE_NOTE = "Answered with `Cache-Control: no-store`."


def app_data(app: ConnectedApp, usage: selectors.AppUsage | None = None) -> dict[str, Any]:
    data = AppOutput(app).data
    if usage is not None:
        data["usage"] = AppUsageOutput(usage).data
    return data


def _body(request: Request, shape: type[serializers.Serializer]) -> dict[str, Any]:
    """The body as sent, if it names only fields of `shape`; the service checks the values."""
    if not isinstance(request.data, dict):
        raise ValidationError({"non_field_errors": BODY_NOT_OBJECT})
    unknown = sorted(set(request.data) - set(shape().fields))
    if unknown:
        raise ValidationError({name: "Unknown field." for name in unknown})
    return dict(request.data)


@extend_schema(tags=[TAG])
class ConnectedAppsAPIView(AccountsAPIView):
    """Resolves the optional `{org_id}` of the org-addressed routes."""

    def owner_from_url(self) -> Organization | None:
        org_id = self.kwargs.get("org_id")
        if org_id is None:
            return None
        return account_selectors.organization_get(access=self.access, org_id=org_id)

    def get_app(self, client_id: str) -> ConnectedApp:
        return selectors.connected_app_get(
            access=self.access, client_id=client_id, owner=self.owner_from_url()
        )


class ConnectedAppsAPI(ConnectedAppsAPIView):
    @extend_schema(
        summary="Apps the caller administers",
        description="Apps owned by the orgs and business groups where the caller holds "
        "manage:connected_apps (or by `org_id` alone, on the org-addressed route).",
        parameters=[*PAGING, SEARCH, INCLUDE_USAGE],
        responses=list_of(AppOutput),
    )
    def get(self, request: Request, org_id: str | None = None) -> Response:
        apps = selectors.connected_app_list(
            access=self.access,
            search=request.query_params.get("search", ""),
            owner=self.owner_from_url(),
        ).prefetch_related("scope_grants")
        include_usage = bool_param(request, "includeUsage")
        page = paginated(request, apps, lambda app: app)
        if include_usage:
            usage = selectors.app_usage_many(apps=page["data"])
            page["data"] = [app_data(app, usage[app.pk]) for app in page["data"]]
        else:
            page["data"] = [app_data(app) for app in page["data"]]
        return Response(page)

    @extend_schema(
        summary="Register an app",
        description=f"At most 2000 apps per root organization. {NO_STORE_NOTE}",
        request=AppInput,
        responses={201: AppCreatedOutput},
    )
    def post(self, request: Request, org_id: str | None = None) -> Response:
        body = _body(request, AppInput)
        owner = self.owner_from_url()
        owner_org_id = body.pop("owner_org_id", None)
        if owner is None:
            owner = (
                account_selectors.organization_get(access=self.access, org_id=owner_org_id)
                if owner_org_id is not None
                else Organization.objects.get(id=self.access.root_org_id)
            )
        # The service validates every field, missing required ones included (→ 400).
        created = services.connected_app_create(
            access=self.access,
            owner=owner,
            client_name=body.pop("client_name", None),
            grant_types=body.pop("grant_types", None),
            meta=self.meta,
            **body,
        )
        data = app_data(created.app)
        data["client_secret"] = created.client_secret
        return Response(data, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})


class ConnectedAppAPI(ConnectedAppsAPIView):
    @extend_schema(summary="An app", parameters=[INCLUDE_USAGE], responses=AppOutput)
    def get(self, request: Request, client_id: str, org_id: str | None = None) -> Response:
        include_usage = bool_param(request, "includeUsage")
        app = self.get_app(client_id)
        usage = None
        if include_usage:
            usage = selectors.app_usage(app=app)
        return Response(app_data(app, usage))

    @extend_schema(
        summary="Change an app (or rotate its secret with resetSecret=true)",
        description="Changes take effect for every token of the app on its next request.",
        parameters=[RESET_SECRET],
        request=AppChanges,
        responses=PolymorphicProxySerializer(
            component_name="AppOrSecret",
            serializers=[AppOutput, AppSecretOutput],
            resource_type_field_name=None,
        ),
    )
    def patch(self, request: Request, client_id: str, org_id: str | None = None) -> Response:
        reset_secret = bool_param(request, "resetSecret")
        app = self.get_app(client_id)
        if reset_secret:
            return _secret_response(
                services.connected_app_rotate_secret(access=self.access, app=app, meta=self.meta)
            )
        body = _body(request, AppChanges)
        app = services.connected_app_update(
            access=self.access, app=app, changes=body, meta=self.meta
        )
        return Response(app_data(app))

    put = patch

    @extend_schema(summary="Delete an app and every token it holds", responses={204: NO_CONTENT})
    def delete(self, request: Request, client_id: str, org_id: str | None = None) -> Response:
        app = self.get_app(client_id)
        services.connected_app_delete(access=self.access, app=app, meta=self.meta)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _secret_response(created: services.AppWithSecret) -> Response:
    return Response(AppSecretOutput(created).data, headers={"Cache-Control": "no-store"})


class ConnectedAppSecretAPI(ConnectedAppsAPIView):
    @extend_schema(
        summary="Rotate the client secret",
        description=f"The old secret stops working at once. {NO_STORE_NOTE}",
        request=None,
        responses=AppSecretOutput,
    )
    def post(self, request: Request, client_id: str, org_id: str | None = None) -> Response:
        app = self.get_app(client_id)
        return _secret_response(
            services.connected_app_rotate_secret(access=self.access, app=app, meta=self.meta)
        )


class ConnectedAppScopesAPI(ConnectedAppsAPIView):
    @extend_schema(summary="The app's scopes with their contexts", responses=AppScopesOutput)
    def get(self, request: Request, client_id: str, org_id: str | None = None) -> Response:
        app = self.get_app(client_id)
        return Response(AppScopesOutput({"scopes": selectors.app_scope_data(app)}).data)

    @extend_schema(
        summary="Replace the app's scopes",
        description="At most 1000 scopes. Tokens lose a removed scope on their next request.",
        request=AppScopes,
        responses={204: NO_CONTENT},
    )
    def put(self, request: Request, client_id: str, org_id: str | None = None) -> Response:
        app = self.get_app(client_id)
        body = _body(request, AppScopes)
        if "scopes" not in body:
            raise ValidationError({"scopes": "This field is required."})
        services.connected_app_set_scopes(
            access=self.access, app=app, scopes=body["scopes"], meta=self.meta
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class ConnectedAppUsageAPI(ConnectedAppsAPIView):
    @extend_schema(
        summary="Who uses the app, and tokens issued and refused per day",
        parameters=[USAGE_DAYS],
        responses=AppUsageReportOutput,
    )
    def get(self, request: Request, client_id: str, org_id: str | None = None) -> Response:
        app = self.get_app(client_id)
        days = selectors.usage_days(request.query_params.get("days"))
        report = selectors.app_usage_report(app=app, days=days)
        return Response(AppUsageReportOutput(report).data)
