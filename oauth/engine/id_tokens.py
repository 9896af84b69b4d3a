"""ID tokens from the token endpoint (OIDC Core §3.1.3.3, §12.2): the claims oauthlib's OpenID
step adds (aud, iat, nonce, at_hash) and those DOT's validator states (its
`get_id_token_dictionary` seam: sub and the user's claims the scopes release, iss, exp,
auth_time, jti), signed with the server's key as DOT signs them. The IDToken row is not saved
here: the engine's writer inserts it with the tokens, in the same statement."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass
from datetime import datetime

from jwcrypto import jwt
from oauth2_provider.models import AbstractApplication
from oauth2_provider.views.mixins import OAuthLibMixin
from oauthlib.common import Request

from accounts.models import User
from accounts.sign_ins import SignIn
from connected_apps.models import ConnectedApp
from oauth.engine.request import TokenRequest
from oauth.keys import active_signing_key


@dataclass
class SignedIdToken:
    value: str  # the JWT
    jti: str
    expires: datetime


def at_hash(access_token: str) -> str:
    """OIDC Core §3.1.3.6: the left half of the access token's SHA-256, base64url."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


def id_token_sign(
    req: TokenRequest,
    *,
    app: ConnectedApp,
    user: User,
    scopes: list[str],
    access_token: str,
    nonce: str | None,
    signing_kid: str | None,
    sign_in: SignIn | None = None,
) -> SignedIdToken:
    core = OAuthLibMixin.get_oauthlib_core()
    uri, method, body, headers = core._extract_params(req.http)
    request = Request(uri, method, body, headers)
    request.client, request.client_id = app, app.client_id
    request.user, request.scopes, request.grant_type = user, scopes, req.grant_type
    request.nonce, request.claims = nonce, None
    claims: dict = {"aud": app.client_id, "iat": int(time.time())}
    if nonce:
        claims["nonce"] = nonce
    claims["at_hash"] = at_hash(access_token)
    stated, expires = core.server.request_validator.get_id_token_dictionary(None, None, request)
    claims.update(stated)
    if sign_in is not None and sign_in.auth_time is not None:
        # OIDC Core §2: when this user authenticated, and how (RFC 8176), as the session
        # that got the code said (DOT's auth_time is the user's last sign-in anywhere).
        claims["auth_time"] = int(sign_in.auth_time.timestamp())
        if sign_in.amr:
            claims["amr"] = list(sign_in.amr)
        claims["acr"] = sign_in.acr
    header = {"typ": "JWT", "alg": app.algorithm}
    key = active_signing_key(signing_kid).jwk
    if app.algorithm == AbstractApplication.RS256_ALGORITHM:
        header["kid"] = key.thumbprint()  # RS256 consumers expect a kid
    token = jwt.JWT(header=json.dumps(header, default=str), claims=json.dumps(claims, default=str))
    token.make_signed_token(key)
    return SignedIdToken(value=token.serialize(), jti=claims["jti"], expires=expires)
