"""Real concurrency against PostgreSQL (`live_server`, threads): eight simultaneous
redemptions of one refresh token or one authorization code. Exactly one wins; the others are
replays (invalid_grant), never a 200 with empty tokens (DOT's behaviour under hashed storage),
and a replayed code revokes what the winner was issued (SPEC §5)."""

from __future__ import annotations

import threading

import pytest
import requests
from django.db import connection
from django.test import Client

from tests.factories import DEFAULT_PASSWORD
from tests.oauth.code_flow import REDIRECT_URI, obtain_code, pkce_pair
from tests.oauth.tokenkit import PROFILE_URL, TOKEN_URL, isolated_throttle  # noqa: F401

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite serialises writers (the test database even locks whole tables)",
    ),
]
RACERS = 8


def race(url: str, data: dict, auth: tuple[str, str]) -> list[tuple[int, dict]]:
    barrier = threading.Barrier(RACERS)
    results: list[tuple[int, dict]] = []

    def post() -> None:
        with requests.Session() as http:
            barrier.wait()
            response = http.post(url, data=data, auth=auth, timeout=30)
            results.append((response.status_code, response.json()))

    threads = [threading.Thread(target=post) for _ in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def profile_status(live_server, access_token: str) -> int:
    return requests.get(
        live_server.url + PROFILE_URL,
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=10,
    ).status_code


def test_concurrent_refreshes_of_one_token(live_server, make_app, member):
    app = make_app(grant_types=["password", "refresh_token"], redirect_uris=[], scopes=["profile"])
    auth = (app.app.client_id, app.client_secret)
    url = live_server.url + TOKEN_URL
    password = {"grant_type": "password", "username": member.username, "password": DEFAULT_PASSWORD}
    tokens = requests.post(url, data=password, auth=auth, timeout=10).json()

    results = race(
        url, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}, auth
    )

    statuses = sorted(status for status, _ in results)
    assert statuses.count(200) <= 1, statuses
    assert set(statuses) <= {200, 400}
    for status, body in results:
        if status == 200:
            assert body["access_token"] and body["refresh_token"]
        else:
            assert body["error"] == "invalid_grant"


def test_concurrent_redemptions_of_one_code(live_server, code_app, member):
    browser = Client()
    browser.force_login(member)
    verifier, challenge = pkce_pair()
    code = obtain_code(browser, code_app.app, challenge=challenge, scope="openid profile")["code"]
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
    }

    results = race(
        live_server.url + TOKEN_URL, data, (code_app.app.client_id, code_app.client_secret)
    )

    statuses = sorted(status for status, _ in results)
    assert statuses.count(200) <= 1, statuses
    assert statuses.count(400) >= RACERS - 1
    for status, body in results:
        if status == 200:  # the losers' replays revoked the winner's tokens
            assert profile_status(live_server, body["access_token"]) == 401


def test_a_revocation_during_a_refresh_leaves_no_live_member(
    live_server, make_app, member, monkeypatch
):
    """SPEC §10: a family revoked while one of its refreshes is in flight loses the refresh
    token that rotation creates too (one UPDATE, waiting on the rotation's lock, would not
    see it under READ COMMITTED). The rotation is held open so the revocation lands in it."""
    import time

    from django.db import transaction

    from oauth.engine import issue
    from oauth.models import RefreshToken
    from tests.oauth.tokenkit import REVOKE_URL

    app = make_app(grant_types=["password", "refresh_token"], redirect_uris=[], scopes=["profile"])
    auth = (app.app.client_id, app.client_secret)
    url = live_server.url + TOKEN_URL
    password = {"grant_type": "password", "username": member.username, "password": DEFAULT_PASSWORD}
    tokens = requests.post(url, data=password, auth=auth, timeout=10).json()

    claimed = threading.Event()
    write = issue._write

    def slow_write(decided, rows, now):
        with transaction.atomic():
            written = write(decided, rows, now)
            if decided.claim is not None:  # the refresh token's row is locked to the commit
                claimed.set()
                time.sleep(1.0)
        return written

    monkeypatch.setattr(issue, "_write", slow_write)
    refreshed: list[requests.Response] = []
    rotation = threading.Thread(
        target=lambda: refreshed.append(
            requests.post(
                url,
                data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                auth=auth,
                timeout=30,
            )
        )
    )
    rotation.start()
    assert claimed.wait(10)
    revoked = requests.post(
        live_server.url + REVOKE_URL, data={"token": tokens["access_token"]}, auth=auth, timeout=30
    )
    rotation.join()
    assert revoked.status_code == 200
    assert refreshed[0].status_code == 200, refreshed[0].text
    assert not RefreshToken.objects.filter(revoked__isnull=True).exists()
    again = requests.post(
        url,
        data={"grant_type": "refresh_token", "refresh_token": refreshed[0].json()["refresh_token"]},
        auth=auth,
        timeout=10,
    )
    assert again.status_code == 400, again.text
    assert profile_status(live_server, refreshed[0].json()["access_token"]) == 401
