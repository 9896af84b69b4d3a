"""The sign-in page says which app the person is signing in to (issue 16), when an
authorization request sent them there; nothing for any other `next`."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.test import Client

from tests.oauth.code_flow import authorize_url, pkce_pair

pytestmark = pytest.mark.django_db


def test_an_authorization_request_names_its_app_on_the_sign_in_page(make_app):
    created = make_app(client_name="Expense Tracker")
    sent = Client().get(authorize_url(created.app, challenge=pkce_pair()[1]))
    assert sent.status_code == 302
    page = Client().get(sent["Location"]).content.decode()
    assert "to continue to <strong>Expense Tracker</strong>" in page


@pytest.mark.parametrize(
    "next_url",
    [
        "/",
        "https://evil.example/accounts/api/v2/oauth2/authorize?client_id={client_id}",
        "/accounts/api/v2/oauth2/authorize?client_id=nobody",
    ],
)
def test_any_other_next_names_nothing(make_app, next_url):
    created = make_app(client_name="Expense Tracker")
    target = quote(next_url.format(client_id=created.app.client_id), safe="")
    page = Client().get(f"/auth/login/?next={target}").content.decode()
    assert "to continue to" not in page
    assert "Access Management for your organization." in page
