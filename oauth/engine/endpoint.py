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
from oauth.engine.issue import response_json
from oauth.engine.refresh_token import RefreshTokenGrant
from oauth.engine.request import TokenRequest
from oauth.errors import OAuthError
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
    for grant in (AuthorizationCodeGrant(), RefreshTokenGrant(), CLIENT_CREDENTIALS)
}
# What a client_credentials request may carry to be answered ahead of Django (oauth.wsgi).
FRONT_PARAMETERS = frozenset({"grant_type", "scope", "client_id", "client_secret"})


def token_response(
    http: HttpRequest, params: dict[str, str], context: EndpointContext
) -> HttpResponse | None:
    """The answer to a token request whose grant the engine decides; None for the others."""
    grant = GRANTS.get(params.get("grant_type", ""))
    if grant is None:
        return None
    req = TokenRequest(http=http, params=params, context=context)
    try:
        body = _decide(grant, req)
    except ClientRefused as refused:
        req.client_is(refused.identity)
        refusal_record(req, refused)
        return refused.response()
    except OAuthError as error:
        refusal_record(req, error)
        return error.response()
    return HttpResponse(response_json(body), content_type="application/json")


def refusal_record(req: TokenRequest, error: OAuthError) -> None:
    """Audit a refused request of a known app, once."""
    context = req.context
    context.refusal_recorded = True
    if context.client is None or error.error not in AUDITED_ERRORS:
        return
    token_event_record(
        action=AuditAction.TOKEN_REFUSED,
        app=context.client,
        user=context.user,
        outcome=AuditOutcome.FAILURE,
        details={"grant_type": req.grant_type[:100], "error": error.error},
        meta=req.meta,
    )


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
