"""Client authentication (RFC 6749 §2.3.1, RFC 7523 §2.2) for DOT's revocation and
introspection endpoints: the token engine's one rule (oauth.engine.clients)."""

from __future__ import annotations

from django.conf import settings

from connected_apps.models import ConnectedApp
from oauth.backends import endpoint_context
from oauth.engine.clients import app_named, client_identify


class ClientValidatorMixin:
    # -- client authentication (RFC 6749 §2.3.1, RFC 7523 §2.2) -------------------------------
    def client_credentials_presented(self, request) -> bool:
        return bool(
            self._extract_basic_auth(request)
            or getattr(request, "client_secret", None)
            or getattr(request, "client_assertion_type", None)
        )

    def client_authentication_required(self, request, *args, **kwargs) -> bool:
        if getattr(request, "client_assertion_type", None) is not None:
            return True
        return super().client_authentication_required(request, *args, **kwargs)

    def authenticate_client(self, request, *args, **kwargs) -> bool:
        """The token engine's one rule (oauth.engine.clients), for the grants and endpoints
        oauthlib still serves."""
        params = {name: value for name, value in request.decoded_body or () if value is not None}
        identity = client_identify(
            params, request.headers.get("HTTP_AUTHORIZATION"), self._audiences(request)
        )
        request.client = identity.app
        if identity.app is not None:
            request.client_id = request.client_id or identity.app.client_id
        context = endpoint_context(request)
        if context is not None and identity.app is not None:
            context.client = identity.app
            context.authenticated = context.authenticated or identity.authenticated
        return identity.authenticated

    def _load_application(self, client_id, request):
        """DOT's lookup (a usable app, kept on the request), through the engine's."""
        client = request.client
        if isinstance(client, ConnectedApp) and client.client_id == client_id:
            return client if client.is_usable(request) else None
        request.client = app_named(client_id)
        return request.client

    def _audiences(self, request) -> frozenset[str]:
        context = endpoint_context(request)
        if context is not None:
            return context.audiences
        return frozenset({settings.DOORMAN_ISSUER, f"{settings.DOORMAN_ISSUER}/token"})
