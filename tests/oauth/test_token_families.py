"""Token families (SPEC §10): every token a user grant issues belongs to a family from its
first issue, and revoking a family (or any member) deletes its access tokens and revokes its
refresh tokens on every worker: a worker that remembers one of them finds its row gone on the
next request, and no new generation makes the other workers' entries go too."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client

from oauth import principal_cache
from oauth.models import AccessToken, Grant, RefreshToken
from oauth.principals import access_token_resolve
from oauth.services import access_tokens_revoke, token_family_revoke
from tests.factories import DEFAULT_PASSWORD, IdentityProviderFactory
from tests.oauth.code_flow import obtain_code, pkce_pair, redeem_code, tokens_for
from tests.oauth.helpers import mint_access_token
from tests.oauth.tokenkit import (
    JWT_BEARER,
    LOGIN_URL,
    assertion_claims,
    client_credentials,
    isolated_throttle,  # noqa: F401 (autouse fixture)
    post_form,
    post_json,
    public_pem,
    rsa_key,
    sha256,
    sign,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def password_app(make_app):
    return make_app(grant_types=["password", "refresh_token"], redirect_uris=[], scopes=["profile"])


def password_tokens(app, user) -> dict:
    data = {"grant_type": "password", "username": user.username, "password": DEFAULT_PASSWORD}
    data.update(client_id=app.app.client_id, client_secret=app.client_secret)
    response = post_form(data)
    assert response.status_code == 200, response.content
    return response.json()


def refreshed(app, refresh_token: str) -> dict:
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    data.update(client_id=app.app.client_id, client_secret=app.client_secret)
    return post_form(data).json()


def family_of(raw: str, model=AccessToken) -> uuid.UUID | None:
    return model.objects.get(token_checksum=sha256(raw)).token_family


def warm(raw: str) -> None:
    assert access_token_resolve(raw) is not None
    assert principal_cache.principals.recent(sha256(raw)) is not None


# -- every user grant's tokens belong to a family from the first issue ----------------------------
def test_a_password_sign_in_starts_a_family_of_both_tokens(password_app, member):
    tokens = password_tokens(password_app, member)
    family = family_of(tokens["access_token"])
    assert family is not None
    assert family_of(tokens["refresh_token"], RefreshToken) == family


def test_each_sign_in_is_its_own_family(password_app, member):
    first, second = password_tokens(password_app, member), password_tokens(password_app, member)
    assert family_of(first["access_token"]) != family_of(second["access_token"])


def test_a_refresh_keeps_the_family(password_app, member):
    first = password_tokens(password_app, member)
    second = refreshed(password_app, first["refresh_token"])
    family = family_of(first["refresh_token"], RefreshToken)
    assert family_of(second["access_token"]) == family
    assert family_of(second["refresh_token"], RefreshToken) == family


def test_a_codes_tokens_join_the_codes_family(code_app, member):
    browser = Client()
    browser.force_login(member)
    tokens = tokens_for(browser, code_app, scope="openid profile offline_access")
    family = Grant.objects.get().token_family
    assert family is not None
    assert family_of(tokens["access_token"]) == family
    assert family_of(tokens["refresh_token"], RefreshToken) == family


def test_a_jwt_bearer_token_has_a_family(make_app, org):
    key = rsa_key()
    app = make_app(
        grant_types=[JWT_BEARER],
        redirect_uris=[],
        public_keys=[public_pem(key)],
        scopes=["profile"],
    )
    idp = IdentityProviderFactory(organization=org)
    sub = f"v2|{idp.id}|dorothy|Dorothy|Vaughan|dv@acme.test|"
    assertion = sign(assertion_claims(app.app.client_id, sub), key)
    body = post_form({"grant_type": JWT_BEARER, "assertion": assertion}).json()
    assert family_of(body["access_token"]) is not None


def test_a_platform_token_is_a_family_of_one(member):
    raw = post_json({"username": member.username, "password": DEFAULT_PASSWORD}, url=LOGIN_URL)
    assert family_of(raw.json()["access_token"]) is not None


def test_client_credentials_tokens_have_no_family(make_app):
    app = make_app(grant_types=["client_credentials"], redirect_uris=[], scopes=[])
    raw = post_form(client_credentials(app)).json()["access_token"]
    assert family_of(raw) is None


# -- revoking a family reaches every worker -------------------------------------------------------
def test_revoking_a_family_deletes_its_access_tokens_without_a_new_generation(password_app, member):
    tokens = password_tokens(password_app, member)
    other = password_tokens(password_app, member)
    warm(tokens["access_token"])
    warm(other["access_token"])
    generation = principal_cache.generation_current()

    assert token_family_revoke(family_of(tokens["access_token"])) is True

    assert access_token_resolve(tokens["access_token"]) is None
    assert not RefreshToken.objects.filter(
        token_checksum=sha256(tokens["refresh_token"]), revoked__isnull=True
    ).exists()
    assert principal_cache.generation_current() == generation  # the others' entries kept
    assert principal_cache.principals.recent(sha256(other["access_token"])) is not None
    assert token_family_revoke(family_of(tokens["refresh_token"], RefreshToken)) is False


def test_an_access_token_from_before_families_goes_with_its_refresh_tokens_family(
    password_app, member
):
    tokens = password_tokens(password_app, member)
    AccessToken.objects.update(token_family=None)  # as the first token of a grant used to be
    warm(tokens["access_token"])
    token_family_revoke(family_of(tokens["refresh_token"], RefreshToken))
    assert access_token_resolve(tokens["access_token"]) is None
    assert not AccessToken.objects.exists()


def test_revoking_an_access_token_revokes_its_family(password_app, member):
    first = password_tokens(password_app, member)
    second = refreshed(password_app, first["refresh_token"])
    warm(second["access_token"])
    live = access_tokens_revoke(
        tokens=AccessToken.objects.filter(token_checksum=sha256(second["access_token"]))
    )
    assert live is True
    assert access_token_resolve(second["access_token"]) is None
    assert not RefreshToken.objects.filter(revoked__isnull=True).exists()


def test_a_large_sweep_is_refused_everywhere_without_a_new_generation(member, code_app):
    """However many tokens one revocation deletes, each is refused by a worker that remembers
    it (its row is gone), with no new generation for every other entry."""
    raws = [mint_access_token(user=member, app=code_app.app, scope="profile") for _ in range(101)]
    warm(raws[0])
    warm(raws[-1])
    generation = principal_cache.generation_current()
    assert access_tokens_revoke(tokens=AccessToken.objects.filter(user=member)) is True
    assert principal_cache.generation_current() == generation
    assert access_token_resolve(raws[0]) is None
    assert access_token_resolve(raws[-1]) is None
    assert not AccessToken.objects.exists()


def test_a_replayed_code_kills_its_tokens_on_a_worker_that_remembers_them(code_app, member):
    browser = Client()
    browser.force_login(member)
    verifier, challenge = pkce_pair()
    code = obtain_code(browser, code_app.app, challenge=challenge)["code"]
    tokens = redeem_code(browser, code_app, code, verifier).json()
    warm(tokens["access_token"])
    assert redeem_code(browser, code_app, code, verifier).status_code == 400
    assert access_token_resolve(tokens["access_token"]) is None
    assert not RefreshToken.objects.filter(revoked__isnull=True).exists()
