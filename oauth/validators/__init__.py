"""The one OAuth2Validator subclass (DOT's OAUTH2_VALIDATOR_CLASS seam).

Doorman's token rules on top of DOT's (SPEC §2, §5):
- an app uses exactly the grants in its `grant_types` (RFC names, the jwt-bearer grant too);
- clients authenticate by HTTP Basic, by `client_id`/`client_secret` in the body, or by a JWT
  signed with one of their registered keys (private_key_jwt, RFC 7523 §2.2);
- authorization codes are stored as SHA-256 digests, are claimed once, atomically, and a
  replayed code revokes every token issued from it (its token family);
- refresh tokens rotate on every use, live 90 days from issuance, and a reused (or concurrently
  reused) one revokes its whole family; code-flow apps get one only with `offline_access`;
- the password grant is throttled and asked of an app only when it is registered for it;
- users outside an `internal` app's root org, or deactivated, get no tokens.
"""

from __future__ import annotations

from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.oauth2.rfc6749 import errors

from connected_apps.controls import FEATURE_DISABLED_FOR_OWNER, org_apps_enabled
from connected_apps.models import GrantType
from oauth.oidc import OIDCValidatorMixin
from oauth.validators.clients import ClientValidatorMixin
from oauth.validators.codes import AuthorizationCodeValidatorMixin
from oauth.validators.common import (
    code_digest,
    token_checksum,
    token_family_revoke,
    user_may_use_app,
)
from oauth.validators.tokens import TokenValidatorMixin

__all__ = [
    "DoormanValidator",
    "code_digest",
    "token_checksum",
    "token_family_revoke",
    "user_may_use_app",
]


def _owner_apps_enabled(client) -> bool:
    """The owner org's feature switch, as loaded with the client when it was."""
    enabled = getattr(client, "doorman_owner_enabled", None)
    if enabled is None:
        enabled = org_apps_enabled(org_id=client.root_org_id)
    return enabled


class DoormanValidator(
    OIDCValidatorMixin,
    ClientValidatorMixin,
    AuthorizationCodeValidatorMixin,
    TokenValidatorMixin,
    OAuth2Validator,
):
    # -- grant and response types (RFC 6749 §4, §5.2 unauthorized_client) ---------------------
    def validate_grant_type(self, client_id, grant_type, client, request, *args, **kwargs) -> bool:
        client = request.client
        if client is None or grant_type not in client.grant_types:
            return False
        if grant_type == GrantType.CLIENT_CREDENTIALS and not _owner_apps_enabled(client):
            # SPEC §6: the owner org switched connected apps off (RFC 6749 §5.2).
            raise errors.UnauthorizedClientError(
                description=FEATURE_DISABLED_FOR_OWNER, request=request
            )
        return True

    def validate_response_type(self, client_id, response_type, client, request, *args, **kwargs):
        return response_type == "code" and GrantType.AUTHORIZATION_CODE in client.grant_types
