"""Client authentication (RFC 6749 §2.3.1, RFC 7523 §2.2) and the grants that identify the
user without a browser: password (RFC 6749 §4.3) and jwt-bearer (RFC 7523 §2.1)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from oauthlib.oauth2.rfc6749 import errors

from accounts.models import IdentityProvider, Organization
from accounts.selectors import user_power_within
from accounts.services import federated_user_resolve, federated_user_save
from connected_apps.controls import SCOPES_NONE_APPROVED
from connected_apps.models import (
    AllowlistEntry,
    ConnectedApp,
    GrantType,
    OrgAppSettings,
)
from oauth.backends import endpoint_context
from oauth.engine.clients import app_named, client_identify
from oauth.grants import (
    AssertionRejected,
    assertion_consume,
    assertion_issuer,
    assertion_verify,
    federated_subject_parse,
)
from oauth.issuance import request_meta
from oauth.ratelimit import limit_address
from oauth.throttle import login_throttle_check, login_throttle_failure, login_throttle_success
from oauth.validators.common import (
    FEDERATED_SUBJECT_FORMAT,
    FEDERATED_USER_CONCURRENT,
    FEDERATED_USER_REFUSALS,
    PROVIDER_NOT_APPROVED,
    USER_POWER_OUTSIDE,
    note_user,
    requested_scopes,
    user_app_check,
)


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

    # -- password grant (RFC 6749 §4.3) ------------------------------------------------------
    def validate_user(self, username, password, client, request, *args, **kwargs) -> bool:
        # oauthlib asks this before validate_grant_type: an app not registered for the
        # password grant must never learn whether a password is right.
        if client is None or GrantType.PASSWORD not in client.grant_types:
            raise errors.UnauthorizedClientError(request=request)
        address = limit_address(request.headers)  # oauthlib's copy of the WSGI environ
        refusal = login_throttle_check(username=username, address=address)
        if refusal is not None:
            context = endpoint_context(request)
            if context is not None:
                context.retry_after = refusal.retry_after
            raise errors.CustomOAuth2Error(
                error="temporarily_unavailable",
                description=refusal.description,
                status_code=refusal.status,
                request=request,
            )
        if not super().validate_user(username, password, client, request, *args, **kwargs):
            login_throttle_failure(username=username, address=address)
            return False
        login_throttle_success(username=username, address=address)
        self._check_org_controls(request, request.user, client)
        note_user(request)
        return True

    def _check_org_controls(self, request, user, app) -> None:
        """SPEC §2 audience and §6 org controls for a grant without a browser. A request that
        names no scope gets the app's defaults narrowed to what the user's org approved."""
        requested = requested_scopes(request)
        gate = user_app_check(user, app, requested)
        if gate.refusal:
            raise errors.InvalidGrantError(description=gate.refusal, request=request)
        if requested is None and gate.approved_scopes is not None:
            defaults = self.get_default_scopes(app.client_id, request)
            narrowed = [scope for scope in defaults if scope in gate.approved_scopes]
            if not narrowed:
                raise errors.InvalidScopeError(description=SCOPES_NONE_APPROVED, request=request)
            request.scopes = narrowed

    # -- jwt-bearer grant (RFC 7523 §2.1, §3) ------------------------------------------------
    def validate_jwt_bearer_assertion(self, assertion, request) -> None:
        """Verify the assertion and consume its jti; sets request.client. Raises."""
        issuer = assertion_issuer(assertion)
        if issuer is None:
            raise errors.InvalidGrantError(
                description="The assertion is not a JWT with an iss claim.", request=request
            )
        if request.client is not None and request.client.client_id != issuer:
            raise errors.InvalidGrantError(
                description="The assertion's iss must be the authenticated client.",
                request=request,
            )
        if self._load_application(issuer, request) is None:  # unknown or disabled
            raise errors.InvalidClientError(request=request)
        request.client_id = issuer
        context = endpoint_context(request)
        if context is not None:
            context.client = request.client
        try:
            claims = assertion_verify(assertion, request.client, self._audiences(request))
        except AssertionRejected as rejected:
            raise errors.InvalidGrantError(
                description=rejected.description, request=request
            ) from None
        if context is not None:  # signed by one of its keys: the app itself asks (RFC 7523)
            context.authenticated = True
        if not assertion_consume(request.client, claims):
            raise errors.InvalidGrantError(
                description="The assertion's jti was already used.", request=request
            )
        request.doorman_assertion_claims = claims

    def validate_jwt_bearer_subject(self, request) -> None:
        """The user `sub` names (SPEC §5): found through their link to the identity provider,
        or to be created just in time. Nothing is written here: the token's transaction
        writes the user once every check has passed (`federated_user_save`). Raises."""
        app = request.client
        subject = federated_subject_parse(request.doorman_assertion_claims["sub"])
        if subject is None:
            raise errors.InvalidGrantError(description=FEDERATED_SUBJECT_FORMAT, request=request)
        provider = (
            IdentityProvider.objects.select_related("organization")
            .filter(pk=subject.provider_id)
            .first()
        )
        if provider is None:
            raise errors.InvalidGrantError(
                description="Unknown identity provider.", request=request
            )
        reach = assertion_reach(provider, app)
        if reach is None:
            raise errors.InvalidGrantError(description=PROVIDER_NOT_APPROVED, request=request)
        try:
            resolved = federated_user_resolve(
                provider=provider,
                username=subject.username,
                email=subject.email,
                first_name=subject.first_name,
                last_name=subject.last_name,
            )
        except ValidationError as exc:
            code = next(iter(exc.error_dict.values()))[0].code
            description = FEDERATED_USER_REFUSALS.get(code, "The subject is not acceptable.")
            raise errors.InvalidGrantError(description=description, request=request) from None
        if not resolved.created and not user_power_within(resolved.user, reach):
            # A link made earlier cannot carry power granted since outside the provider's org:
            # whoever controls the app there must not become, say, a root administrator.
            raise errors.InvalidGrantError(description=USER_POWER_OUTSIDE, request=request)
        self._check_org_controls(request, resolved.user, app)
        request.user = resolved.user
        request.doorman_federated_user = resolved
        note_user(request)

    def jwt_bearer_user_save(self, request) -> None:
        """SPEC §5: the user the assertion names is created or updated only now, inside the
        transaction that issues the token (and its id_token), after every check passed."""
        try:
            with transaction.atomic():
                federated_user_save(
                    request.doorman_federated_user,
                    actor_app=request.client,
                    meta=request_meta(request.headers),
                )
        except IntegrityError:  # another assertion created this user a moment ago
            raise errors.InvalidGrantError(
                description=FEDERATED_USER_CONCURRENT, request=request
            ) from None


def assertion_reach(provider: IdentityProvider, app: ConnectedApp) -> Organization | None:
    """SPEC §5: an assertion is the app's word alone, with no consent from the user, so it
    reaches only users whoever controls the app could reach anyway. Returns the org within
    which an asserted user's roles and permissions must all lie, or None when the app may
    not assert the provider's users at all:
    - a provider of the app's owner org or of a BG below it (never a parent's or a
      sibling's): users whose power lies within the provider's org;
    - another tenant's provider, once that tenant approved the app on an allowlist it
      enforces (its approved scopes then apply): only users holding nothing there, since the
      power lies within the app's owner org, which is in another tree."""
    provider_org = provider.organization
    owner = Organization.objects.filter(id=app.owner_org_id).first()
    if owner is None:
        return None
    if provider_org.root_id_or_self == app.root_org_id:
        return provider_org if provider_org.path.startswith(owner.path) else None
    root_id = provider_org.root_id_or_self
    approved = (
        OrgAppSettings.objects.filter(organization_id=root_id, allowlist_enabled=True).exists()
        and AllowlistEntry.objects.filter(organization_id=root_id, app_id=app.pk).exists()
    )
    return owner if approved else None
