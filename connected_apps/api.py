"""The connected-apps management API (SPEC §4). Views are thin: selectors read, services write.

Every route exists twice, as Anypoint offers it: `/connectedApplications/…` (the app is found
in the caller's tenant) and `/organizations/{orgId}/connectedApplications/…` (the app must be
owned by that org).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema_view
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import selectors as account_selectors
from accounts.api import AccountsAPIView
from accounts.models import Organization
from connected_apps import api_schema as docs
from connected_apps import selectors, services
from connected_apps.models import ConnectedApp
from core.api_support import bool_param, paginated

CREATE_FIELDS = frozenset(
    {
        "client_name",
        "grant_types",
        "redirect_uris",
        "scopes",
        "public_keys",
        "audience",
        "owner_org_id",
        "website_url",
    }
)
BODY_NOT_OBJECT = "Expected a JSON object."


def app_data(app: ConnectedApp, usage: selectors.AppUsage | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "client_id": app.client_id,
        "client_name": app.name,
        "grant_types": list(app.grant_types),
        "redirect_uris": app.redirect_uris.split(),
        "scopes": sorted({s.scope for s in app.scope_grants.all()}),
        "public_keys": list(app.public_keys),
        "audience": app.audience,
        "website_url": app.website_url,
        "enabled": app.enabled,
        "owner_org_id": str(app.owner_org_id),
        "created_by": str(app.user_id) if app.user_id else None,
        "created_at": app.created,
        "updated_at": app.updated,
        "last_used_at": app.last_used_at,
    }
    if usage is not None:
        data["usage"] = usage_data(usage)
    return data


def usage_data(usage: selectors.AppUsage) -> dict[str, Any]:
    return {
        "organizations": usage.organizations,
        "users": usage.users,
        "tokens_issued": usage.tokens_issued,
        "last_used_at": usage.last_used_at,
    }


def _body(request: Request, allowed: frozenset[str]) -> dict[str, Any]:
    if not isinstance(request.data, dict):
        raise ValidationError({"non_field_errors": BODY_NOT_OBJECT})
    unknown = sorted(set(request.data) - allowed)
    if unknown:
        raise ValidationError({name: "Unknown field." for name in unknown})
    return dict(request.data)


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


@extend_schema_view(get=docs.app_list, post=docs.app_create)
class ConnectedAppsAPI(ConnectedAppsAPIView):
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

    def post(self, request: Request, org_id: str | None = None) -> Response:
        body = _body(request, CREATE_FIELDS)
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


@extend_schema_view(
    get=docs.app_read, patch=docs.app_update, put=docs.app_update, delete=docs.app_delete
)
class ConnectedAppAPI(ConnectedAppsAPIView):
    def get(self, request: Request, client_id: str, org_id: str | None = None) -> Response:
        include_usage = bool_param(request, "includeUsage")
        app = self.get_app(client_id)
        usage = None
        if include_usage:
            usage = selectors.app_usage(app=app)
        return Response(app_data(app, usage))

    def patch(self, request: Request, client_id: str, org_id: str | None = None) -> Response:
        reset_secret = bool_param(request, "resetSecret")
        app = self.get_app(client_id)
        if reset_secret:
            return _secret_response(
                services.connected_app_rotate_secret(access=self.access, app=app, meta=self.meta)
            )
        body = _body(request, frozenset(services.UPDATABLE_FIELDS))
        app = services.connected_app_update(
            access=self.access, app=app, changes=body, meta=self.meta
        )
        return Response(app_data(app))

    put = patch

    def delete(self, request: Request, client_id: str, org_id: str | None = None) -> Response:
        app = self.get_app(client_id)
        services.connected_app_delete(access=self.access, app=app, meta=self.meta)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _secret_response(created: services.AppWithSecret) -> Response:
    return Response(
        {"client_id": created.app.client_id, "client_secret": created.client_secret},
        headers={"Cache-Control": "no-store"},
    )


@extend_schema_view(post=docs.app_rotate_secret)
class ConnectedAppSecretAPI(ConnectedAppsAPIView):
    def post(self, request: Request, client_id: str, org_id: str | None = None) -> Response:
        app = self.get_app(client_id)
        return _secret_response(
            services.connected_app_rotate_secret(access=self.access, app=app, meta=self.meta)
        )


@extend_schema_view(get=docs.app_scopes_read, put=docs.app_scopes_set)
class ConnectedAppScopesAPI(ConnectedAppsAPIView):
    def get(self, request: Request, client_id: str, org_id: str | None = None) -> Response:
        app = self.get_app(client_id)
        return Response({"scopes": selectors.app_scope_data(app)})

    def put(self, request: Request, client_id: str, org_id: str | None = None) -> Response:
        app = self.get_app(client_id)
        body = _body(request, frozenset({"scopes"}))
        if "scopes" not in body:
            raise ValidationError({"scopes": "This field is required."})
        services.connected_app_set_scopes(
            access=self.access, app=app, scopes=body["scopes"], meta=self.meta
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(get=docs.app_usage)
class ConnectedAppUsageAPI(ConnectedAppsAPIView):
    def get(self, request: Request, client_id: str, org_id: str | None = None) -> Response:
        app = self.get_app(client_id)
        return Response(usage_data(selectors.app_usage(app=app)))
