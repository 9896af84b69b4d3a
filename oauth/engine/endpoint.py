"""The token endpoint's engine: which grants it decides, and how a decision becomes an
answer. A refusal is an `oauth.errors.OAuthError` raised where it is decided, audited here
(SPEC §7 "token refused": only refusals of a known app) and answered with its RFC 6749 §5.2
body."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from audit.models import AuditAction, AuditOutcome
from oauth.backends import EndpointContext
from oauth.engine.authorization_code import AuthorizationCodeGrant
from oauth.engine.clients import ClientRefused
from oauth.engine.issue import response_json
from oauth.engine.refresh_token import RefreshTokenGrant
from oauth.engine.request import TokenRequest
from oauth.errors import OAuthError
from oauth.issuance import token_event_record

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
GRANTS = {grant.grant_type: grant for grant in (AuthorizationCodeGrant(), RefreshTokenGrant())}


def token_response(
    http: HttpRequest, params: dict[str, str], context: EndpointContext
) -> HttpResponse | None:
    """The answer to a token request whose grant the engine decides; None for the others."""
    grant = GRANTS.get(params.get("grant_type", ""))
    if grant is None:
        return None
    req = TokenRequest(http=http, params=params, context=context)
    try:
        issue = grant.validate_token_request(req)
        body = grant.create_token_response(req, issue)
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
