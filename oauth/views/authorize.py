"""The authorization endpoint and its Authorize App consent screen (RFC 6749 §4.1.1)."""

from oauth2_provider.views import AuthorizationView


class DoormanAuthorizationView(AuthorizationView):
    pass
