"""Signing-key rotation (SPEC §4: rotation keeps the previous key published): `manage.py
rotate_signing_key`, retired keys in the JWKS for the ID-token lifetime and not after."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import jwt
import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone

from oauth.keys import active_signing_key, published_keys, signing_key_rotate
from oauth.models import SigningKey
from tests.oauth.code_flow import JWKS_URL, tokens_for
from tests.oauth.test_id_token import verify_id_token

pytestmark = pytest.mark.django_db


def rotate() -> dict:
    out = io.StringIO()
    call_command("rotate_signing_key", stdout=out)
    return json.loads(out.getvalue())


def jwks_kids() -> list[str]:
    return [key["kid"] for key in Client().get(JWKS_URL).json()["keys"]]


def test_the_command_creates_a_new_active_key_and_keeps_the_previous_one_published():
    first = active_signing_key().kid
    result = rotate()
    assert result["retired"] == first
    assert result["kid"] != first
    assert result["published"] == [result["kid"], first]
    assert active_signing_key().kid == result["kid"]
    assert jwks_kids() == [result["kid"], first]  # the active key first
    old = SigningKey.objects.get(kid=first)
    assert not old.is_active and old.retired_at is not None


def test_the_first_rotation_of_an_empty_database_retires_nothing():
    result = rotate()
    assert result["retired"] is None
    assert result["published"] == [result["kid"]]


def test_an_id_token_signed_before_a_rotation_still_verifies_after_it(member, code_app):
    client = Client()
    client.force_login(member)
    before = tokens_for(client, code_app)["id_token"]
    old_kid = jwt.get_unverified_header(before)["kid"]

    rotate()

    after = tokens_for(client, code_app)["id_token"]
    new_kid = jwt.get_unverified_header(after)["kid"]
    assert new_kid != old_kid
    assert new_kid == active_signing_key().kid
    assert verify_id_token(before, code_app.app.client_id)["sub"] == str(member.id)
    assert verify_id_token(after, code_app.app.client_id)["sub"] == str(member.id)


def test_a_key_retired_long_ago_is_no_longer_published_and_is_deleted_at_rotation(settings):
    ancient = signing_key_rotate()
    middle = signing_key_rotate()
    lifetime = settings.OAUTH2_PROVIDER["ID_TOKEN_EXPIRE_SECONDS"]
    SigningKey.objects.filter(pk=ancient.pk).update(
        retired_at=timezone.now() - timedelta(seconds=lifetime, hours=1)
    )
    assert [key["kid"] for key in published_keys()] == [active_signing_key().kid]
    assert ancient.kid not in jwks_kids()

    rotate()
    assert not SigningKey.objects.filter(pk=ancient.pk).exists()
    assert SigningKey.objects.filter(pk=middle.pk).exists()


def test_a_key_retired_within_the_id_token_lifetime_is_published(settings):
    retired = signing_key_rotate()
    signing_key_rotate()
    lifetime = settings.OAUTH2_PROVIDER["ID_TOKEN_EXPIRE_SECONDS"]
    SigningKey.objects.filter(pk=retired.pk).update(
        retired_at=timezone.now() - timedelta(seconds=lifetime - 60)
    )
    assert retired.kid in jwks_kids()


def test_only_one_key_is_ever_active():
    signing_key_rotate()
    signing_key_rotate()
    assert SigningKey.objects.filter(is_active=True).count() == 1
    row = SigningKey.objects.filter(is_active=False).first()
    with pytest.raises(IntegrityError), transaction.atomic():
        SigningKey.objects.filter(pk=row.pk).update(is_active=True)


def test_a_rotation_made_elsewhere_applies_to_the_next_token_at_once():
    first = active_signing_key()
    # Another process rotates: this one has the old key in memory, the database knows better.
    created = signing_key_rotate()
    assert active_signing_key().kid == created.kid != first.kid
