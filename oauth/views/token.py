"""Token, revocation and introspection endpoints (RFC 6749 §3.2, RFC 7009, RFC 7662)."""

from oauth2_provider.views import IntrospectTokenView, RevokeTokenView, TokenView


class DoormanTokenView(TokenView):
    pass


class DoormanRevokeView(RevokeTokenView):
    pass


class DoormanIntrospectView(IntrospectTokenView):
    pass
