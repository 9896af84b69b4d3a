"""Usage counts of client_credentials tokens: whatever path answers, and whether the count
is sent without waiting (Redis, CI's shape) or counted in process, a count is exactly the
tokens issued; a refused or failed request counts nothing."""

from __future__ import annotations

import pytest
from django.db import OperationalError
from django.utils import timezone

from connected_apps.usage import pending_counts
from oauth.models import AccessToken
from tests.oauth.tokenkit import client_credentials, post_form

pytestmark = pytest.mark.django_db


def tokens_counted(app) -> int:
    today = timezone.now().date()
    return pending_counts([app.pk], [today]).get((app.pk, today), 0)


def test_each_token_is_counted_once(cc_app):
    for _ in range(3):  # the first loads the app; the others count ahead from the memo
        assert post_form(client_credentials(cc_app)).status_code == 200
    assert tokens_counted(cc_app.app) == AccessToken.objects.count() == 3


@pytest.mark.parametrize(
    "refused",
    [
        {"client_secret": "wrong"},  # a failed authentication
        {"scope": "manage:users"},  # a scope the app does not hold
    ],
    ids=["bad-secret", "unheld-scope"],
)
def test_a_refused_request_of_a_known_app_counts_nothing(cc_app, refused):
    assert post_form(client_credentials(cc_app)).status_code == 200  # the app is remembered
    assert post_form(client_credentials(cc_app, **refused)).status_code in (400, 401)
    assert tokens_counted(cc_app.app) == AccessToken.objects.count() == 1


def test_a_failed_insert_takes_its_count_back(cc_app, monkeypatch):
    assert post_form(client_credentials(cc_app)).status_code == 200

    def down(*rows, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr("oauth.engine.issue._write", down)
    assert post_form(client_credentials(cc_app)).status_code == 503
    assert tokens_counted(cc_app.app) == AccessToken.objects.count() == 1
