"""The token endpoint's engine: which grants it decides, and how a decision becomes an
answer. A refusal is an `oauth.errors.OAuthError` raised where it is decided, audited here
(SPEC §7 "token refused": only refusals of a known app) and answered with its RFC 6749 §5.2
body."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from audit.models import AuditAction, AuditOutcome
from oauth.backends import EndpointContext
from oauth.engine.authorization_code import AuthorizationCodeGrant
from oauth.engine.client_credentials import ClientCredentialsGrant
from oauth.engine.clients import ClientRefused
from oauth.engine.credentials import basic_client_id
from oauth.engine.issue import response_json
from oauth.engine.jwt_bearer import JWTBearerGrant
from oauth.engine.password import PasswordGrant
from oauth.engine.refresh_token import RefreshTokenGrant
from oauth.engine.request import TokenRequest
from oauth.errors import InvalidRequest, OAuthError, UnsupportedGrantType
from oauth.issuance import token_event_record
from oauth.ratelimit import token_request_authenticated

# Refusals worth an audit event (SPEC §7 "token refused"), when the app is known.
AUDITED_ERRORS = frozenset(
    {
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "invalid_scope",
        "temporarily_unavailable",
    }
)
CLIENT_CREDENTIALS = ClientCredentialsGrant()
GRANTS = {
    grant.grant_type: grant
    for grant in (
        AuthorizationCodeGrant(),
        RefreshTokenGrant(),
        PasswordGrant(),
        JWTBearerGrant(),
        CLIENT_CREDENTIALS,
    )
}
MISSING_GRANT_TYPE = "Missing grant_type parameter."
# What a client_credentials request may carry to be answered ahead of Django (oauth.wsgi).
FRONT_PARAMETERS = frozenset({"grant_type", "scope", "client_id", "client_secret"})


def token_response(
    http: HttpRequest, params: dict[str, str], context: EndpointContext
) -> HttpResponse:
    """The answer to a token request (RFC 6749 §5.1, §5.2); a client that authenticated
    spends its rate-limit budget (`authenticated_client_id`)."""
    response = _answer(http, params, context)
    client_id = authenticated_client_id(http, params, context, response)
    if client_id:
        token_request_authenticated(client_id)
    return response


def authenticated_client_id(
    http: HttpRequest, params: dict[str, str], context: EndpointContext, response: HttpResponse
) -> str | None:
    """The client this request authenticated as, if it did (SPEC §10: only those requests
    spend its budget). A public client proves nothing but its grant (code, refresh token)."""
    client = context.client
    if response.status_code == 200:
        presented = basic_client_id(http.META.get("HTTP_AUTHORIZATION", ""))
        return client.client_id if client else presented or params.get("client_id")
    if client is None or not context.authenticated:
        return None
    return client.client_id


def _answer(http: HttpRequest, params: dict[str, str], context: EndpointContext) -> HttpResponse:
    req = TokenRequest(http=http, params=params, context=context)
    try:
        body = _decide(_grant(req), req)
    except ClientRefused as refused:
        req.client_is(refused.identity)
        refusal_record(req, refused)
        return refused.response()
    except OAuthError as error:
        refusal_record(req, error)
        return error.response()
    return HttpResponse(response_json(body), content_type="application/json")


def refusal_record(req: TokenRequest, error: OAuthError) -> None:
    """Audit a refused token request, once."""
    req.context.refusal_recorded = True
    refusal_audit(req.context, error.error, {"grant_type": req.grant_type[:100]}, req.meta)


def refusal_audit(context: EndpointContext, error: str, details: dict, meta) -> None:
    """SPEC §7 "token refused", for any OAuth endpoint: only refusals of a known app
    (nobody's audit log is the place for anonymous noise), with the error code."""
    if context.client is None or error not in AUDITED_ERRORS:
        return
    token_event_record(
        action=AuditAction.TOKEN_REFUSED,
        app=context.client,
        user=context.user,
        outcome=AuditOutcome.FAILURE,
        details={**details, "error": error},
        meta=meta,
    )


def _grant(req: TokenRequest):
    if not req.grant_type:
        raise InvalidRequest(MISSING_GRANT_TYPE)
    grant = GRANTS.get(req.grant_type)
    if grant is None:  # RFC 6749 §5.2
        raise UnsupportedGrantType()
    return grant


def _decide(grant, req: TokenRequest) -> dict:
    respond = getattr(grant, "respond", None)
    if respond is not None:
        return respond(req)
    issue = grant.validate_token_request(req)
    return grant.create_token_response(req, issue)


def client_credentials_issue(http: HttpRequest, params: dict[str, str]) -> bytes | None:
    """For the WSGI front (oauth.wsgi): the body of a plain client_credentials request the
    engine issues a token for; None for any other, and for a refusal, which Django's path
    then decides again (nothing a refused plain request did is kept) and answers."""
    if (
        params.get("grant_type") != CLIENT_CREDENTIALS.grant_type
        or params.keys() - FRONT_PARAMETERS
    ):
        return None
    req = TokenRequest(http=http, params=params, context=EndpointContext.for_request(http))
    try:
        body = CLIENT_CREDENTIALS.respond(req)
    except OAuthError:
        return None
    token_request_authenticated(req.identity.app.client_id)
    return response_json(body)
