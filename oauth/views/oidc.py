"""OIDC discovery, JWKS and userinfo (OIDC Core §5.3, Discovery §4)."""

from oauth2_provider.views import ConnectDiscoveryInfoView, JwksInfoView, UserInfoView


class DoormanDiscoveryView(ConnectDiscoveryInfoView):
    pass


class DoormanJwksView(JwksInfoView):
    pass


class DoormanUserInfoView(UserInfoView):
    pass
