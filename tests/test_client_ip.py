"""core.client_ip: the one client address rate limits, lockouts and the audit trail use."""

from __future__ import annotations

import pytest
from oauthlib.common import Request as OauthlibRequest

from core.client_ip import client_ip, client_ip_bucket, ip_normalize
from oauth.issuance import request_meta


def test_client_ip_is_remote_addr_unless_proxies_are_trusted(rf, settings):
    request = rf.post("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.5")
    settings.DOORMAN_TRUSTED_PROXY_COUNT = 0
    assert client_ip(request) == "10.0.0.2"
    settings.DOORMAN_TRUSTED_PROXY_COUNT = 1
    assert client_ip(request) == "203.0.113.5"
    settings.DOORMAN_TRUSTED_PROXY_COUNT = 2
    assert client_ip(request) == "1.1.1.1"
    settings.DOORMAN_TRUSTED_PROXY_COUNT = 3  # fewer hops than proxies: not trusted
    assert client_ip(request) == "10.0.0.2"


def test_environs_and_oauthlibs_copy_of_one_give_the_same_address(rf, settings):
    settings.DOORMAN_TRUSTED_PROXY_COUNT = 1
    request = rf.post("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.5")
    environ = dict(request.META)
    oauthlib_request = OauthlibRequest("https://x/token", headers=environ)  # as DOT builds it
    assert client_ip(environ) == client_ip(oauthlib_request.headers) == "203.0.113.5"
    assert request_meta(oauthlib_request.headers).client_ip == "203.0.113.5"
    assert client_ip({}) is None
    assert client_ip(None) is None


@pytest.mark.parametrize(
    ("forwarded", "expected"),
    [
        ("garbage", "10.0.0.2"),
        ("", "10.0.0.2"),
        (" , ", "10.0.0.2"),
        ("1.1.1.1, 300.1.1.1", "10.0.0.2"),  # only the trusted hop is read
        ("1.1.1.1, 2001:DB8::0:1", "2001:db8::1"),
        ("[2001:db8::1]:8443", "2001:db8::1"),
        ("203.0.113.5:51000", "203.0.113.5"),
        ("fe80::1%25eth0", "fe80::1"),
        ("::ffff:198.51.100.1", "198.51.100.1"),
        ("1" * 100, "10.0.0.2"),
    ],
)
def test_a_forwarded_address_that_is_not_one_falls_back_to_the_peer(
    rf, settings, forwarded, expected
):
    settings.DOORMAN_TRUSTED_PROXY_COUNT = 1
    request = rf.post("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


@pytest.mark.parametrize("value", ["", "unix:/run/x.sock", "localhost", "1.2.3"])
def test_a_peer_that_is_no_ip_address_is_none(rf, value):
    assert client_ip(rf.post("/", REMOTE_ADDR=value)) is None
    assert ip_normalize(value) is None


def test_limits_count_an_ipv6_client_as_its_slash_64():
    assert client_ip_bucket("2001:db8:1:2:aaaa::1") == client_ip_bucket("2001:db8:1:2:bbbb::9")
    assert client_ip_bucket("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert client_ip_bucket("2001:db8:1:3::1") != client_ip_bucket("2001:db8:1:2::1")
    assert client_ip_bucket("203.0.113.5") == "203.0.113.5"
    assert client_ip_bucket(None) == ""


def test_a_forwarded_request_from_a_private_peer_with_no_trusted_proxy_warns_once(
    settings, caplog, monkeypatch
):
    from core import client_ip as module

    settings.DOORMAN_TRUSTED_PROXY_COUNT = 0
    monkeypatch.setattr(module, "_proxy_warning_given", False)
    forwarded = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "203.0.113.9"}
    with caplog.at_level("WARNING", logger="core.client_ip"):
        assert client_ip(forwarded) == "10.0.0.2"
        assert client_ip(forwarded) == "10.0.0.2"
        client_ip({"REMOTE_ADDR": "203.0.113.1", "HTTP_X_FORWARDED_FOR": "1.2.3.4"})
    warnings = [r for r in caplog.records if "DOORMAN_TRUSTED_PROXY_COUNT is 0" in r.message]
    assert len(warnings) == 1


def test_a_public_peer_sending_x_forwarded_for_is_no_reason_to_warn(settings, caplog, monkeypatch):
    from core import client_ip as module

    settings.DOORMAN_TRUSTED_PROXY_COUNT = 0
    monkeypatch.setattr(module, "_proxy_warning_given", False)
    with caplog.at_level("WARNING", logger="core.client_ip"):
        client_ip({"REMOTE_ADDR": "8.8.8.8", "HTTP_X_FORWARDED_FOR": "1.2.3.4"})
    assert not caplog.records
