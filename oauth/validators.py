"""The one OAuth2Validator subclass (DOT's OAUTH2_VALIDATOR_CLASS seam)."""

from oauth2_provider.oauth2_validators import OAuth2Validator

from oauth.oidc import OIDCValidatorMixin


class DoormanValidator(OIDCValidatorMixin, OAuth2Validator):
    pass
