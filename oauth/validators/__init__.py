"""The one OAuth2Validator subclass (DOT's OAUTH2_VALIDATOR_CLASS seam).

What DOT's own views still ask oauthlib (the authorization endpoint, revocation,
introspection, userinfo), answered with Doorman's rules. The token endpoint's grants are
decided by the token engine (oauth.engine), which this validator calls for client
authentication and revocation, so each rule is written once:
- clients authenticate by HTTP Basic, by `client_id`/`client_secret` in the body, or by a JWT
  signed with one of their registered keys (private_key_jwt, RFC 7523 §2.2);
- authorization codes are stored as SHA-256 digests;
- the `code` response type only, for apps registered for the authorization_code grant.
"""

from __future__ import annotations

from oauth2_provider.oauth2_validators import OAuth2Validator

from connected_apps.models import GrantType
from oauth.oidc import OIDCValidatorMixin
from oauth.validators.clients import ClientValidatorMixin
from oauth.validators.codes import AuthorizationCodeValidatorMixin
from oauth.validators.tokens import TokenValidatorMixin

__all__ = ["DoormanValidator"]


class DoormanValidator(
    OIDCValidatorMixin,
    ClientValidatorMixin,
    AuthorizationCodeValidatorMixin,
    TokenValidatorMixin,
    OAuth2Validator,
):
    # -- response types (RFC 6749 §3.1.1) -------------------------------------------------
    def validate_response_type(self, client_id, response_type, client, request, *args, **kwargs):
        return response_type == "code" and GrantType.AUTHORIZATION_CODE in client.grant_types
