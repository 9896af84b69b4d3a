"""Red-team review of the token engine (oauth/engine/): behaviour the engine allows that the
code it replaced (704426d: oauthlib + DoormanValidator) did not, or that SPEC §5 forbids.
Every test here is an attack over HTTP; a failing test is a finding."""

from __future__ import annotations

import pytest

from tests.oauth.test_grant_jwt_bearer import idp, jwt_app, key, subject  # noqa: F401 (fixtures)
from tests.oauth.test_token_private_key_jwt import cc_with_assertion, client_assertion
from tests.oauth.tokenkit import (
    JWT_BEARER,
    assert_oauth_error,
    assertion_claims,
    isolated_throttle,  # noqa: F401 (autouse fixture)
    post_form,
    public_pem,
    rsa_key,
    sign,
)

pytestmark = pytest.mark.django_db


def test_a_refused_jwt_bearer_assertion_cannot_be_replayed(
    jwt_app,  # noqa: F811 (a fixture)
    key,  # noqa: F811
    idp,  # noqa: F811
):
    """SPEC §5 / RFC 7523 §3: an assertion's `jti` is never reused. The old grant consumed
    the jti as soon as the signature verified (before the subject and scope checks), so an
    assertion seen once was dead. The engine's first version claimed the jti only in the
    statement that wrote the tokens: a request refused after verification (here: a scope
    the app does not hold; equally an org control, a deactivated user, a USER_POWER_OUTSIDE
    refusal, a race on the just-in-time user) left the jti unused, and whoever saw the
    assertion (a log, a proxy, the refused request itself) could replay it, with a `scope`
    and `resource` of their own choosing, since neither is bound by the assertion."""
    assertion = sign(assertion_claims(jwt_app.app.client_id, subject(idp)), key)

    first = post_form({"grant_type": JWT_BEARER, "assertion": assertion, "scope": "manage:users"})
    assert_oauth_error(first, "invalid_scope")

    replay = post_form({"grant_type": JWT_BEARER, "assertion": assertion, "scope": "email"})
    assert_oauth_error(replay, "invalid_grant")


def test_a_refused_private_key_jwt_client_credentials_request_gets_its_own_error(make_app, org):
    """The engine tries client_credentials on what the worker remembers of the app first;
    a client assertion's jti is consumed when it is checked, so a request carrying one must
    be decided once: a second decision would find its own jti used and answer invalid_client
    instead of the real refusal (here: a scope the app does not hold)."""
    robot_key = rsa_key()
    app = make_app(
        client_name="Keyed",
        grant_types=["client_credentials"],
        redirect_uris=[],
        public_keys=[public_pem(robot_key)],
        scopes=[{"scope": "read:organization", "context_params": {"org": str(org.id)}}],
    )
    named = {"client_id": app.app.client_id}
    assert (
        post_form(cc_with_assertion(client_assertion(app, robot_key), **named)).status_code == 200
    )
    refused = post_form(
        cc_with_assertion(client_assertion(app, robot_key), scope="manage:users", **named)
    )
    assert_oauth_error(refused, "invalid_scope")
