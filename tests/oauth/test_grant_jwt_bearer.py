"""The RFC 7523 jwt-bearer grant (SPEC §5): an assertion signed (RS256/PS256/ES256) by one of
the app's keys names a user of one of its org's identity providers, who is found or created
just in time and updated. Every other assertion is invalid_grant."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from accounts.access import Access
from accounts.services import identity_link_create
from audit.models import AuditAction, AuditEvent
from connected_apps.services import connected_app_update
from oauth.engine.jwt_bearer import FEDERATED_USER_REFUSALS
from oauth.models import AccessToken, RefreshToken, UsedAssertion
from tests.factories import IdentityProviderFactory, OrganizationFactory, UserFactory
from tests.oauth.tokenkit import (
    JWT_BEARER,
    TEST_ISSUER,
    TEST_TOKEN_ENDPOINT,
    assert_oauth_error,
    assertion_claims,
    basic,
    bearer_profile,
    ec_key,
    isolated_throttle,  # noqa: F401 (autouse fixture)
    post_form,
    post_json,
    public_jwk,
    public_pem,
    rsa_key,
    sign,
    unsigned_jwt,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def key():
    return rsa_key()


@pytest.fixture
def jwt_app(make_app, key):
    return make_app(
        client_name="Federation",
        grant_types=[JWT_BEARER],
        redirect_uris=[],
        public_keys=[public_pem(key)],
        scopes=["profile", "email", "view:environment"],
    )


@pytest.fixture
def idp(org):
    return IdentityProviderFactory(organization=org, name="Corporate SSO")


def subject(idp, username="grace", first="Grace", last="Hopper", email="grace@acme.test"):
    return f"v2|{idp.id}|{username}|{first}|{last}|{email}|engineering,admirals"


def grant(assertion: str, **extra) -> dict:
    return {"grant_type": JWT_BEARER, "assertion": assertion, **extra}


def assertion_for(app_with_secret, key, sub: str, algorithm="RS256", **claims) -> str:
    return sign(assertion_claims(app_with_secret.app.client_id, sub, **claims), key, algorithm)


# -- just-in-time users ---------------------------------------------------------------------------
def test_assertion_creates_the_user_just_in_time(jwt_app, key, idp, org):
    response = post_form(grant(assertion_for(jwt_app, key, subject(idp))))
    assert response.status_code == 200, response.content
    body = response.json()
    assert "refresh_token" not in body
    assert set(body["scope"].split()) == {"profile", "email", "view:environment"}
    profile = bearer_profile(body["access_token"]).json()
    assert profile["username"] == "grace"
    assert (profile["firstName"], profile["lastName"]) == ("Grace", "Hopper")
    assert profile["email"] == "grace@acme.test"
    assert profile["organizationId"] == str(org.id)
    user = AccessToken.objects.get().user
    assert not user.has_usable_password()
    created = AuditEvent.objects.get(action=AuditAction.USER_CREATED)
    assert created.actor_client_id == jwt_app.app.client_id
    assert created.details["identity_provider"] == str(idp.id)
    issued = AuditEvent.objects.get(action=AuditAction.TOKEN_ISSUED)
    assert issued.actor_user == user
    assert issued.details["grant_type"] == JWT_BEARER


def test_next_assertion_updates_the_user(jwt_app, key, idp):
    post_form(grant(assertion_for(jwt_app, key, subject(idp))))
    sub = subject(idp, first="Grace B.", last="Murray", email="gbm@acme.test")
    response = post_form(grant(assertion_for(jwt_app, key, sub)))
    assert response.status_code == 200, response.content
    profile = bearer_profile(response.json()["access_token"]).json()
    assert (profile["firstName"], profile["lastName"]) == ("Grace B.", "Murray")
    assert profile["email"] == "gbm@acme.test"
    assert AuditEvent.objects.filter(action=AuditAction.USER_CREATED).count() == 1


def test_a_member_an_admin_linked_is_found(jwt_app, key, idp, member, admin):
    identity_link_create(access=Access(user=admin), provider=idp, user=member)
    sub = subject(idp, username=member.username.upper())
    response = post_form(grant(assertion_for(jwt_app, key, sub)))
    assert response.status_code == 200, response.content
    assert AccessToken.objects.get().user == member


def test_an_unlinked_member_is_refused_and_untouched(jwt_app, key, idp, member):
    # SPEC §5: a username that belongs to an account the provider is not linked to.
    email_before = member.email
    sub = subject(idp, username=member.username.upper(), email="attacker@evil.test")
    body = assert_oauth_error(post_form(grant(assertion_for(jwt_app, key, sub))), "invalid_grant")
    assert body["error_description"] == FEDERATED_USER_REFUSALS["username_taken"]
    member.refresh_from_db()
    assert member.email == email_before
    assert not AccessToken.objects.exists()


def test_idp_of_a_business_group_creates_users_in_the_root_org(jwt_app, key, org):
    bg = OrganizationFactory(parent=org, name="Engineering")
    bg_idp = IdentityProviderFactory(organization=bg)
    response = post_form(grant(assertion_for(jwt_app, key, subject(bg_idp))))
    assert response.status_code == 200, response.content
    assert AccessToken.objects.get().user.organization == org


def test_username_of_another_root_org_is_refused(jwt_app, key, idp, other_admin):
    sub = subject(idp, username=other_admin.username)
    body = assert_oauth_error(post_form(grant(assertion_for(jwt_app, key, sub))), "invalid_grant")
    assert body["error_description"] == FEDERATED_USER_REFUSALS["username_taken"]
    assert not AccessToken.objects.exists()


def test_idp_of_another_org_is_refused_even_for_everyone_apps(make_app, key, other_org):
    app = make_app(
        grant_types=[JWT_BEARER],
        redirect_uris=[],
        public_keys=[public_pem(key)],
        scopes=["profile"],
        audience="everyone",
    )
    foreign_idp = IdentityProviderFactory(organization=other_org)
    response = post_form(grant(assertion_for(app, key, subject(foreign_idp))))
    assert_oauth_error(response, "invalid_grant")
    assert not AccessToken.objects.exists()
    assert not other_org.members.filter(username="grace").exists()


def test_deactivated_user_is_refused(jwt_app, key, idp, member, admin):
    identity_link_create(access=Access(user=admin), provider=idp, user=member)
    member.is_active = False
    member.save(update_fields=["is_active"])
    sub = subject(idp, username=member.username)
    assert_oauth_error(post_form(grant(assertion_for(jwt_app, key, sub))), "invalid_grant")


@pytest.mark.parametrize(
    "sub",
    [
        "grace",
        "v1|{idp}|grace|Grace|Hopper|g@acme.test|",
        "v2|not-a-uuid|grace|Grace|Hopper|g@acme.test|",
        "v2|{idp}|grace|Grace|Hopper",
        "v2|{idp}||Grace|Hopper|g@acme.test|",
        "v2|{idp}|grace|Grace|Hopper|not-an-email|",
        "v2|{idp}|gr ace|Grace|Hopper|g@acme.test|",
        "v2|{idp}|grace|" + "G" * 200 + "|Hopper|g@acme.test|",
        "v2|00000000-0000-0000-0000-000000000000|grace|Grace|Hopper|g@acme.test|",
    ],
    ids=[
        "plain",
        "v1",
        "bad-idp-id",
        "too-few-parts",
        "empty-username",
        "bad-email",
        "bad-username",
        "long-name",
        "unknown-idp",
    ],
)
def test_malformed_subject_is_invalid_grant(jwt_app, key, idp, sub):
    response = post_form(grant(assertion_for(jwt_app, key, sub.format(idp=idp.id))))
    assert_oauth_error(response, "invalid_grant")
    assert not AccessToken.objects.exists()


def test_groups_may_contain_the_separator(jwt_app, key, idp):
    sub = f"v2|{idp.id}|grace|Grace|Hopper|grace@acme.test|a|b|c"
    assert post_form(grant(assertion_for(jwt_app, key, sub))).status_code == 200


# -- the assertion ---------------------------------------------------------------------------------
def test_expired_assertion_is_invalid_grant(jwt_app, key, idp):
    import time

    now = int(time.time())
    assertion = assertion_for(jwt_app, key, subject(idp), iat=now - 600, exp=now - 120)
    body = assert_oauth_error(post_form(grant(assertion)), "invalid_grant")
    assert "expired" in body["error_description"]


def test_exp_too_far_ahead_is_invalid_grant(jwt_app, key, idp):
    import time

    assertion = assertion_for(jwt_app, key, subject(idp), exp=int(time.time()) + 3600)
    assert_oauth_error(post_form(grant(assertion)), "invalid_grant")


@pytest.mark.parametrize("claim", ["exp", "jti", "aud", "sub"])
def test_missing_claim_is_invalid_grant(jwt_app, key, idp, claim):
    claims = assertion_claims(jwt_app.app.client_id, subject(idp))
    del claims[claim]
    assert_oauth_error(post_form(grant(sign(claims, key))), "invalid_grant")


@pytest.mark.parametrize(
    "audience",
    ["https://other.example/token", "http://testserver/accounts/api/v2/oauth2/introspect"],
)
def test_wrong_audience_is_invalid_grant(jwt_app, key, idp, audience):
    assertion = assertion_for(jwt_app, key, subject(idp), aud=audience)
    body = assert_oauth_error(post_form(grant(assertion)), "invalid_grant")
    assert "aud" in body["error_description"]


@pytest.mark.parametrize(
    "audience",
    [
        TEST_TOKEN_ENDPOINT,
        TEST_ISSUER,
        "http://127.0.0.1:8000/accounts/api/v2/oauth2/token",  # DOORMAN_BASE_URL's
        ["https://other.example", TEST_TOKEN_ENDPOINT],
    ],
    ids=["token-endpoint", "issuer", "configured-token-endpoint", "list"],
)
def test_accepted_audiences(jwt_app, key, idp, audience):
    response = post_form(grant(assertion_for(jwt_app, key, subject(idp), aud=audience)))
    assert response.status_code == 200, response.content


def test_replayed_jti_is_invalid_grant(jwt_app, key, idp):
    assertion = assertion_for(jwt_app, key, subject(idp))
    assert post_form(grant(assertion)).status_code == 200
    body = assert_oauth_error(post_form(grant(assertion)), "invalid_grant")
    assert "jti" in body["error_description"]
    used = UsedAssertion.objects.get()
    assert used.client_id == jwt_app.app.client_id
    assert len(used.jti_digest) == 64


def test_same_jti_in_a_new_assertion_is_refused(jwt_app, key, idp):
    assert (
        post_form(grant(assertion_for(jwt_app, key, subject(idp), jti="once"))).status_code == 200
    )
    again = assertion_for(jwt_app, key, subject(idp, first="Other"), jti="once")
    assert_oauth_error(post_form(grant(again)), "invalid_grant")


def test_alg_none_is_invalid_grant(jwt_app, idp):
    assertion = unsigned_jwt(assertion_claims(jwt_app.app.client_id, subject(idp)))
    body = assert_oauth_error(post_form(grant(assertion)), "invalid_grant")
    assert "RS256" in body["error_description"]


def test_hs256_with_the_public_key_as_secret_is_invalid_grant(jwt_app, key, idp):
    """The classic key confusion: an HMAC keyed with the (public) PEM."""

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    claims = assertion_claims(jwt_app.app.client_id, subject(idp))
    signing_input = (
        b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        + "."
        + b64(json.dumps(claims).encode())
    )
    mac = hmac.new(public_pem(key).encode(), signing_input.encode(), hashlib.sha256).digest()
    assert_oauth_error(post_form(grant(f"{signing_input}.{b64(mac)}")), "invalid_grant")


def test_hs256_with_the_client_secret_is_invalid_grant(jwt_app, idp):
    claims = assertion_claims(jwt_app.app.client_id, subject(idp))
    assertion = sign(claims, jwt_app.client_secret, "HS256")
    assert_oauth_error(post_form(grant(assertion)), "invalid_grant")


def test_unknown_key_is_invalid_grant(jwt_app, idp):
    assertion = assertion_for(jwt_app, rsa_key(), subject(idp))
    body = assert_oauth_error(post_form(grant(assertion)), "invalid_grant")
    assert "key" in body["error_description"]


def test_tampered_claims_are_invalid_grant(jwt_app, key, idp):
    header, payload, signature = assertion_for(jwt_app, key, subject(idp)).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = subject(idp, username="acme-admin")
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert_oauth_error(post_form(grant(f"{header}.{forged}.{signature}")), "invalid_grant")


@pytest.mark.parametrize("assertion", ["", "not.a.jwt", "a.b", "x" * 20_000])
def test_garbage_assertion_is_refused(jwt_app, assertion):
    response = post_form(grant(assertion))
    assert response.status_code in (400, 401)
    assert response.json()["error"] in {"invalid_request", "invalid_grant"}


def test_unknown_issuer_is_invalid_client(key, idp):
    assertion = sign(assertion_claims("f" * 32, subject(idp)), key)
    assert_oauth_error(post_form(grant(assertion)), "invalid_client", 401)


@pytest.mark.parametrize(
    ("algorithm", "make_key"),
    [("PS256", rsa_key), ("ES256", ec_key)],
)
def test_other_allowed_algorithms(make_app, idp, algorithm, make_key):
    private = make_key()
    app = make_app(grant_types=[JWT_BEARER], redirect_uris=[], public_keys=[public_pem(private)])
    response = post_form(grant(assertion_for(app, private, subject(idp), algorithm=algorithm)))
    assert response.status_code == 200, response.content


def test_jwk_registered_key_and_a_second_key(make_app, key, idp):
    second = rsa_key()
    app = make_app(
        grant_types=[JWT_BEARER],
        redirect_uris=[],
        public_keys=[public_jwk(key), public_pem(second)],
    )
    for private in (key, second):
        response = post_form(grant(assertion_for(app, private, subject(idp))))
        assert response.status_code == 200, response.content


def test_json_body(jwt_app, key, idp):
    response = post_json(grant(assertion_for(jwt_app, key, subject(idp))))
    assert response.status_code == 200, response.content


def test_missing_assertion_is_invalid_request(jwt_app):
    assert_oauth_error(post_form({"grant_type": JWT_BEARER}), "invalid_request")


def test_requested_scope(jwt_app, key, idp):
    assertion = assertion_for(jwt_app, key, subject(idp))
    response = post_form(grant(assertion, scope="profile"))
    assert response.json()["scope"] == "profile"
    assertion = assertion_for(jwt_app, key, subject(idp))
    assert_oauth_error(post_form(grant(assertion, scope="manage:users")), "invalid_scope")


# -- the app ---------------------------------------------------------------------------------------
def test_app_not_registered_for_the_grant_creates_no_user(make_app, key, idp):
    app = make_app(public_keys=[public_pem(key)])  # authorization_code + refresh_token
    response = post_form(grant(assertion_for(app, key, subject(idp))))
    assert_oauth_error(response, "unauthorized_client")
    assert not idp.organization.members.filter(username="grace").exists()


def test_disabled_app_is_invalid_client(jwt_app, key, idp, admin):
    connected_app_update(access=Access(user=admin), app=jwt_app.app, changes={"enabled": False})
    assert_oauth_error(
        post_form(grant(assertion_for(jwt_app, key, subject(idp)))), "invalid_client", 401
    )


def test_client_credentials_sent_along_must_be_right(jwt_app, key, idp, code_app):
    assertion = assertion_for(jwt_app, key, subject(idp))
    wrong = basic(jwt_app.app.client_id, "wrong")
    assert_oauth_error(post_form(grant(assertion), HTTP_AUTHORIZATION=wrong), "invalid_client", 401)
    right = basic(jwt_app.app.client_id, jwt_app.client_secret)
    response = post_form(grant(assertion_for(jwt_app, key, subject(idp))), HTTP_AUTHORIZATION=right)
    assert response.status_code == 200, response.content
    other = basic(code_app.app.client_id, code_app.client_secret)
    response = post_form(grant(assertion_for(jwt_app, key, subject(idp))), HTTP_AUTHORIZATION=other)
    assert_oauth_error(response, "invalid_grant")


def test_refused_assertion_is_audited_without_it(jwt_app, key, idp):
    import time

    assertion = assertion_for(jwt_app, key, subject(idp), exp=int(time.time()) - 100)
    post_form(grant(assertion))
    event = AuditEvent.objects.get(action=AuditAction.TOKEN_REFUSED)
    assert event.details == {"grant_type": JWT_BEARER, "error": "invalid_grant"}
    assert assertion not in str(event.__dict__)


def test_never_a_refresh_token(jwt_app, key, idp):
    post_form(grant(assertion_for(jwt_app, key, subject(idp))))
    assert not RefreshToken.objects.exists()


def test_a_user_made_elsewhere_is_not_reached_by_an_assertion(jwt_app, key, idp, org):
    existing = UserFactory(organization=org, username="existing", first_name="Old")
    sub = subject(idp, username="existing", first="New")
    assert_oauth_error(post_form(grant(assertion_for(jwt_app, key, sub))), "invalid_grant")
    existing.refresh_from_db()
    assert existing.first_name == "Old"
