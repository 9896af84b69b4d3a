"""A real DNS server for tests (dnslib's, on a loopback UDP port): it answers TXT queries from
a table the test fills, NXDOMAIN for anything else, and can be made to stay silent (a
resolver that times out). Doorman asks it through DOORMAN_DNS_NAMESERVERS.

    def test_x(dns_server, settings):
        dns_server.txt["_doorman-challenge.acme.example"] = ["doorman-verification=…"]
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest


class _TableResolver:
    def __init__(self) -> None:
        self.txt: dict[str, list[str]] = {}
        self.silent = False
        self.queries: list[str] = []

    def resolve(self, request, handler):
        from dnslib import QTYPE, RCODE, RR, TXT

        name = str(request.q.qname).rstrip(".").lower()
        self.queries.append(name)
        reply = request.reply()
        if self.silent:
            return None  # dnslib sends nothing: the client times out
        values = self.txt.get(name)
        if values is None:
            reply.header.rcode = RCODE.NXDOMAIN
        elif request.q.qtype == QTYPE.TXT:
            for value in values:
                reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(value), ttl=1))
        return reply


class DnsServer:
    def __init__(self) -> None:
        from dnslib.server import DNSServer

        self.resolver = _TableResolver()
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._server = DNSServer(self.resolver, port=self.port, address="127.0.0.1")
        self._server.start_thread()

    @property
    def txt(self) -> dict[str, list[str]]:
        return self.resolver.txt

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._server.stop()


@pytest.fixture(scope="session")
def dns_server_process() -> Iterator[DnsServer]:
    server = DnsServer()
    yield server
    server.stop()


@pytest.fixture
def dns_server(dns_server_process, settings) -> Iterator[DnsServer]:
    """The test's DNS, empty, and Doorman asking it."""
    dns_server_process.txt.clear()
    dns_server_process.resolver.silent = False
    settings.DOORMAN_DNS_NAMESERVERS = dns_server_process.address
    yield dns_server_process
    dns_server_process.txt.clear()
    dns_server_process.resolver.silent = False


def domains_proved(provider) -> None:
    """Mark a provider's domains as proved, as `POST …/verifyDomains` does after finding
    their TXT records (for tests about what comes after: sign-ins)."""
    provider.config = {**provider.config, "verified_domains": list(provider.domains)}
    provider.save(update_fields=["config"])
