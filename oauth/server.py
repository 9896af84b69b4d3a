"""The oauthlib server class (DOT's OAUTH2_SERVER_CLASS / OIDC_SERVER_CLASS seam)."""

from oauthlib.openid import Server


class DoormanServer(Server):
    pass
