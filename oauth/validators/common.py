"""What the validator's parts share: digests, the audience rule, family revocation."""

from __future__ import annotations

import uuid

from audit.models import AuditAction
from oauth.backends import endpoint_context
from oauth.engine.credentials import token_digest
from oauth.engine.facts import (  # noqa: F401 (re-exported: the validator's parts use them)
    USER_NOT_ALLOWED,
    user_app_check,
    user_app_problem,
    user_may_use_app,
)
from oauth.issuance import request_meta, token_event_record
from oauth.models import RefreshToken

CODE_REPLAYED = "The authorization code was already used; the tokens issued from it are revoked."
FEDERATED_SUBJECT_FORMAT = (
    "sub must be v2|<idp_id>|<username>|<firstname>|<lastname>|<email>|<externalgroups>."
)
FEDERATED_USER_CONCURRENT = (
    "Another request created this user at the same moment; retry with a new assertion."
)
PROVIDER_NOT_APPROVED = (
    "The identity provider is outside the app's organization, and its organization has not "
    "approved this app."
)
USER_POWER_OUTSIDE = (
    "The user holds permissions outside the identity provider's organization; an assertion "
    "cannot sign them in."
)
FEDERATED_USER_REFUSALS = {
    "username_invalid": "The username in sub is not a valid username.",
    "email_invalid": "The email in sub is not a valid email address.",
    "name_invalid": "A name in sub is too long or contains control characters.",
    "username_taken": "The username belongs to an account the provider is not linked to.",
    "inactive": "The user is deactivated.",
}


# What Grant.code and a token's checksum store: the value itself never reaches the database.
code_digest = token_checksum = token_digest


def requested_scopes(request) -> list[str] | None:
    """The scopes a token request names; None when it names none (the app's defaults)."""
    return (getattr(request, "scope", None) or "").split() or None


def token_family_revoke(family: uuid.UUID | None) -> bool:
    """Revoke every access and refresh token of `family`, on every worker (SPEC §10). True
    when anything was still live."""
    return RefreshToken.revoke_family(family)


class FamilyReplay(Exception):
    """A code or refresh token claimed by someone else first (raised inside the issuing
    transaction, handled after its rollback so the revocation itself is kept)."""

    def __init__(self, description: str, reason: str, family=None, grant_pk=None) -> None:
        super().__init__(description)
        self.description, self.reason = description, reason
        self.family, self.grant_pk = family, grant_pk


def note_user(request) -> None:
    """Tell the endpoint view which user the request concerned (for its audit event)."""
    context = endpoint_context(request)
    if context is not None:
        context.user = request.user


def revoke_family_recorded(request, family, *, reason: str) -> None:
    """Revoke a token family and, when anything in it was live, record the revocation."""
    if not token_family_revoke(family):
        return  # nothing was live: no event for every replay of a dead token
    token_event_record(
        action=AuditAction.TOKEN_REVOKED,
        app=request.client,
        user=getattr(request, "user", None),
        details={"reason": reason, "grant_type": request.grant_type},
        meta=request_meta(request.headers),
    )
