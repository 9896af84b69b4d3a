"""OIDC parts of the validator: claims, userinfo, silent login (mixed into DoormanValidator)."""


class OIDCValidatorMixin:
    pass
