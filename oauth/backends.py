"""The oauthlib core (DOT's OAUTH2_BACKEND_CLASS seam)."""

from oauth2_provider.oauth2_backends import OAuthLibCore


class DoormanOAuthLibCore(OAuthLibCore):
    pass
