"""Limits stop attackers, not customers (SPEC §10), played over real HTTP.

- A backend signing many users in from one address is not throttled by their successes;
  its failures still are.
- A stranger guessing an admin's password from elsewhere locks out only their own address:
  the admin, from theirs, still gets a token. A distributed guesser (many addresses) never
  locks the admin out, from any address.
- Requests naming a client with a wrong secret, or an assertion it did not sign, never spend
  that client's token budget.
- The audit trail records the client address the trusted proxy saw, and a forged
  X-Forwarded-For never puts garbage in it nor breaks the request.

live_server's peer address is always 127.0.0.1: under DOORMAN_TRUSTED_PROXY_COUNT=1 the
tests speak through a pretend proxy by setting X-Forwarded-For.
"""

from __future__ import annotations

import time
import uuid

import jwt
import pytest
from django.test import override_settings

from audit.models import AuditAction, AuditEvent
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.oauth.tokenkit import JWT_BEARER, private_pem, rsa_key

pytestmark = pytest.mark.django_db(transaction=True)

HOME = "198.51.100.20"  # where the admin signs in from
STRANGER = "10.0.0.66"
BACKEND = "203.0.113.50"
GENEROUS = "1000/m"
ATTACKER_KEY = rsa_key()


def forged_assertion(client_id: str, urls: dict) -> str:
    now = int(time.time())
    claims = {"iss": client_id, "sub": "v2|x", "aud": urls["token"], "exp": now + 60}
    return jwt.encode({**claims, "jti": uuid.uuid4().hex}, private_pem(ATTACKER_KEY), "RS256")


def via(address: str) -> dict:
    """Headers of a request the (one, trusted) proxy forwarded from `address`."""
    return {"X-Forwarded-For": address}


def platform_login(http, urls, username: str, password: str, address: str):
    return http.post(
        urls["login"], json={"username": username, "password": password}, headers=via(address)
    )


def password_grant(http, urls, app, username: str, password: str, address: str):
    data = {"grant_type": "password", "username": username, "password": password}
    return http.post(
        urls["token"],
        data=data,
        auth=(app.app.client_id, app.client_secret),
        headers=via(address),
    )


@pytest.fixture
def password_app(make_app):
    return make_app(grant_types=["password"], redirect_uris=[], scopes=["profile"])


# -- (a) a backend signing users in --------------------------------------------------------------
@override_settings(
    DOORMAN_TRUSTED_PROXY_COUNT=1,
    DOORMAN_RATELIMIT_PASSWORD_PER_IP="5/m",
)
def test_a_backend_signing_in_many_users_from_one_address_is_not_throttled(
    http, urls, org, password_app
):
    session = http()
    users = [UserFactory(organization=org, username=f"customer-{n}") for n in range(8)]
    for user in users:
        response = platform_login(session, urls, user.username, DEFAULT_PASSWORD, BACKEND)
        assert response.status_code == 200, response.text
        response = password_grant(
            session, urls, password_app, user.username, DEFAULT_PASSWORD, BACKEND
        )
        assert response.status_code == 200, response.text
    # Its failures are still limited: five wrong passwords, then 429 for that address.
    for user in users[:5]:
        assert platform_login(session, urls, user.username, "wrong", BACKEND).status_code == 401
    limited = platform_login(session, urls, users[5].username, DEFAULT_PASSWORD, BACKEND)
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    # Another address is not affected.
    assert platform_login(session, urls, users[5].username, DEFAULT_PASSWORD, HOME).ok


# -- (b) nobody can lock a victim out -----------------------------------------------------------
@override_settings(DOORMAN_TRUSTED_PROXY_COUNT=1, DOORMAN_LOGIN_MAX_FAILURES=3)
def test_a_stranger_guessing_the_admins_password_locks_out_only_themselves(
    http, urls, admin, password_app
):
    stranger, victim = http(), http()
    for _ in range(3):
        response = platform_login(stranger, urls, admin.username, "guess", STRANGER)
        assert response.status_code == 401
    # The stranger is locked out, even with the right password (it is not even checked)...
    locked = platform_login(stranger, urls, admin.username, DEFAULT_PASSWORD, STRANGER)
    assert locked.status_code == 429
    assert locked.json()["error"] == "temporarily_unavailable"
    locked = password_grant(
        stranger, urls, password_app, admin.username, DEFAULT_PASSWORD, STRANGER
    )
    assert locked.status_code == 429
    # ...and the admin, from their own address, is not.
    response = platform_login(victim, urls, admin.username, DEFAULT_PASSWORD, HOME)
    assert response.status_code == 200, response.text
    assert response.json()["access_token"]
    response = password_grant(victim, urls, password_app, admin.username, DEFAULT_PASSWORD, HOME)
    assert response.status_code == 200, response.text
    # The stranger keeps going: still locked, and still no effect on the admin.
    for _ in range(5):
        assert platform_login(stranger, urls, admin.username, "guess", STRANGER).status_code == 429
    assert platform_login(victim, urls, admin.username, DEFAULT_PASSWORD, HOME).status_code == 200


@override_settings(DOORMAN_TRUSTED_PROXY_COUNT=1, DOORMAN_LOGIN_MAX_FAILURES=3)
def test_a_distributed_guesser_never_locks_the_admin_out_anywhere(http, urls, admin):
    session = http()
    # A botnet: two guesses from each of many addresses, under every per-address limit.
    answers = [
        platform_login(session, urls, admin.username, f"guess-{n}", f"10.1.{n}.{m}").status_code
        for n in range(8)
        for m in range(2)
    ]
    assert set(answers) == {401}  # every guess checked: none refused unheard
    # The admin signs in from home and from an address never seen before.
    assert platform_login(session, urls, admin.username, DEFAULT_PASSWORD, HOME).status_code == 200
    fresh = platform_login(session, urls, admin.username, DEFAULT_PASSWORD, "10.2.0.1")
    assert fresh.status_code == 200


# -- (c) the client's token budget ---------------------------------------------------------------
@override_settings(
    DOORMAN_TRUSTED_PROXY_COUNT=1,
    DOORMAN_RATELIMIT_TOKEN_PER_CLIENT="5/m",
    DOORMAN_RATELIMIT_TOKEN_PER_IP=GENEROUS,
)
def test_wrong_secrets_never_spend_the_clients_token_budget(http, urls, cc_app):
    attacker, robot = http(), http()
    client_id = cc_app.app.client_id
    for n in range(12):
        response = attacker.post(
            urls["token"],
            data={"grant_type": "client_credentials"},
            auth=(client_id, f"wrong-{n}"),
            headers=via(STRANGER),
        )
        assert response.status_code == 401, response.text
        body = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": "x"}
        assert attacker.post(urls["token"], data=body, headers=via(STRANGER)).status_code == 401
        # An assertion naming the client, signed with a key it never registered.
        forged = {"grant_type": JWT_BEARER, "assertion": forged_assertion(client_id, urls)}
        assert attacker.post(urls["token"], data=forged, headers=via(STRANGER)).status_code == 400

    def fetch():
        return robot.post(
            urls["token"],
            data={"grant_type": "client_credentials"},
            auth=(client_id, cc_app.client_secret),
            headers=via(BACKEND),
        )

    # The real client has its whole budget, and the budget is still real.
    for _ in range(5):
        response = fetch()
        assert response.status_code == 200, response.text
    limited = fetch()
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1


# -- (d) the audit trail's client address --------------------------------------------------------
@override_settings(DOORMAN_TRUSTED_PROXY_COUNT=1)
def test_audit_events_record_the_address_the_trusted_proxy_saw(http, urls, admin, password_app):
    session = http()
    forwarded = {"X-Forwarded-For": f"192.0.2.1, {HOME}"}  # the first hop is the client's word
    response = session.post(
        urls["login"],
        json={"username": admin.username, "password": DEFAULT_PASSWORD},
        headers=forwarded,
    )
    assert response.status_code == 200, response.text
    response = session.post(
        urls["token"],
        data={"grant_type": "password", "username": admin.username, "password": DEFAULT_PASSWORD},
        auth=(password_app.app.client_id, password_app.client_secret),
        headers=forwarded,
    )
    assert response.status_code == 200, response.text
    issued = AuditEvent.objects.filter(action=AuditAction.TOKEN_ISSUED)
    assert issued.count() == 2
    assert set(issued.values_list("client_ip", flat=True)) == {HOME}


@pytest.mark.parametrize(
    ("forwarded", "recorded"),
    [
        ("not-an-ip", "127.0.0.1"),  # unusable: the proxy's own address (the peer's)
        ("203.0.113.5, <script>alert(1)</script>", "127.0.0.1"),
        ("999.1.1.1", "127.0.0.1"),
        ("1.2.3.4" + "0" * 5000, "127.0.0.1"),
        ("fe80::1%eth0", "fe80::1"),  # a zone index the column cannot hold
        ("[2001:db8::7]:443", "2001:db8::7"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        ("203.0.113.10:5000", "203.0.113.10"),
    ],
)
@override_settings(DOORMAN_TRUSTED_PROXY_COUNT=1)
def test_a_forged_forwarded_address_never_breaks_a_request_or_the_audit_trail(
    http, urls, admin, forwarded, recorded
):
    response = http().post(
        urls["login"],
        json={"username": admin.username, "password": DEFAULT_PASSWORD},
        headers={"X-Forwarded-For": forwarded},
    )
    assert response.status_code == 200, response.text
    event = AuditEvent.objects.get(action=AuditAction.TOKEN_ISSUED)
    assert event.client_ip == recorded


# -- the portal's sign-in page ------------------------------------------------------------------
def portal_sign_in(http, urls, username: str, password: str, address: str):
    """The portal's sign-in form, posted as a browser behind the proxy would (CSRF token
    included); 302 when signed in, 200 with the form again when refused."""
    page = http.get(urls["base"] + "/auth/login/", headers=via(address))
    token = http.cookies["csrftoken"]
    return http.post(
        page.url,
        data={"login": username, "password": password, "csrfmiddlewaretoken": token},
        headers={**via(address), "Referer": page.url},
        allow_redirects=False,
    )


@override_settings(DOORMAN_TRUSTED_PROXY_COUNT=1)
def test_a_stranger_cannot_lock_the_admin_out_of_the_portal(http, urls, admin):
    stranger = http()
    for _ in range(8):
        refused = portal_sign_in(stranger, urls, admin.username, "guess", STRANGER)
        assert refused.status_code == 200  # the form again
    locked = portal_sign_in(stranger, urls, admin.username, DEFAULT_PASSWORD, STRANGER)
    assert locked.status_code == 200  # the guesser's address is locked out
    assert "Too many failed login attempts" in locked.text
    signed_in = portal_sign_in(http(), urls, admin.username, DEFAULT_PASSWORD, HOME)
    assert signed_in.status_code == 302, signed_in.text[:2000]
