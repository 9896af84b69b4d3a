"""A real upstream OpenID Connect identity provider for SSO tests: oidc-provider (npm, pinned in
tests/sso/oidc_idp/package-lock.json) run by node on loopback, with a username/password login
page (tests/sso/oidc_idp/server.js describes its pages and claims).

`upstream_oidc_idp` is one IdP for the whole session, knowing `DEFAULT_ACCOUNTS`; a test adds the
client its relying party uses (the redirect URI names the live server's port) and any account of
its own:

    def test_company_sso(upstream_oidc_idp, live_server):
        client = upstream_oidc_idp.add_client(
            redirect_uris=[f"{live_server.url}/accounts/oidc/company/login/callback/"]
        )
        ...  # Doorman's provider settings: upstream_oidc_idp.issuer, client.client_id, ...

`upstream_oidc_idp_factory(clients=..., accounts=...)` starts another IdP (a second company);
every IdP stops at the end of the session. Without node and npm, or when `npm ci` fails, the
tests using them skip with the reason.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import IO, Any

import pytest
import requests

from tests.redis_kit import free_port

PEER_DIR = Path(__file__).resolve().parent / "oidc_idp"
NPM_CI_TIMEOUT = 300  # seconds; a cold cache took ~2 s here, a slow mirror may take a minute
START_TIMEOUT = 45  # seconds until /.well-known/openid-configuration answers (a busy CI box)


@dataclass(frozen=True)
class UpstreamAccount:
    """A user of the company IdP. The login form's "Username" is `preferred_username`, `email`
    or `sub`; the claims are returned for the scopes openid, email, profile (and groups)."""

    sub: str
    password: str
    email: str
    email_verified: bool = True
    given_name: str = ""
    family_name: str = ""
    name: str = ""
    preferred_username: str = ""
    groups: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        claims = dataclasses.asdict(self)
        claims["groups"] = list(self.groups)
        return {k: v for k, v in claims.items() if v not in ("", [])}  # absent, not empty


@dataclass(frozen=True)
class UpstreamClient:
    """A relying party registered at the IdP."""

    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    token_endpoint_auth_method: str = "client_secret_basic"


ADA = UpstreamAccount(
    sub="00u-ada-lovelace",
    password="analytical-engine-1843",
    email="ada@company.example",
    given_name="Ada",
    family_name="Lovelace",
    name="Ada Lovelace",
    preferred_username="ada",
    groups=("engineering", "doorman-admins"),
)
GRACE = UpstreamAccount(
    sub="00u-grace-hopper",
    password="cobol-compiler-1959",
    email="grace@company.example",
    email_verified=False,
    given_name="Grace",
    family_name="Hopper",
    name="Grace Hopper",
    preferred_username="grace",
    groups=("engineering",),
)
DEFAULT_ACCOUNTS = (ADA, GRACE)


def _npm_ci_needed(peer_dir: Path) -> bool:
    """npm ci unless node_modules was installed from this very lockfile (npm writes
    node_modules/.package-lock.json when it installs), as bench/peers/oidc-provider/prepare.sh."""
    installed = peer_dir / "node_modules" / ".package-lock.json"
    if not installed.exists():
        return True
    stamp = installed.stat().st_mtime
    return any(
        (peer_dir / name).stat().st_mtime > stamp for name in ("package-lock.json", "package.json")
    )


def prepare_node_modules(peer_dir: Path = PEER_DIR) -> None:
    """node and npm on PATH and `peer_dir`'s node_modules installed by `npm ci`, or the test
    skips (the upstream OIDC IdP here; axe-core for the browser tests).

    The lock on package-lock.json keeps two test runs of this checkout from installing at once."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip(f"node and npm are needed for {peer_dir}")
    with (peer_dir / "package-lock.json").open("rb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _npm_ci_needed(peer_dir):
            return
        try:
            subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],  # noqa: S607
                cwd=peer_dir,
                capture_output=True,
                text=True,
                timeout=NPM_CI_TIMEOUT,
                check=True,
            )
        except subprocess.TimeoutExpired:
            pytest.skip(f"npm ci in {peer_dir} took more than {NPM_CI_TIMEOUT} s")
        except subprocess.CalledProcessError as failed:
            cause = " / ".join(failed.stderr.strip().splitlines()[:4])  # npm's code, then why
            pytest.skip(f"npm ci in {peer_dir} failed: {cause}")


class UpstreamOIDCIdP:
    """oidc-provider on 127.0.0.1:<free port>, until `stop()`. Clients and accounts passed here
    are known from the start; `add_client` and `add_account` add more while it runs."""

    def __init__(
        self,
        *,
        clients: Sequence[UpstreamClient] = (),
        accounts: Sequence[UpstreamAccount] = DEFAULT_ACCOUNTS,
    ) -> None:
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.discovery_url = f"{self.issuer}/.well-known/openid-configuration"
        self.registration_url = f"{self.issuer}/reg"
        # Bearer token for dynamic registration and adding accounts: nobody else on the
        # machine registers clients at a test's IdP.
        self._admin_token = secrets.token_urlsafe(32)
        config = {
            "port": self.port,
            "admin_token": self._admin_token,
            "clients": [self._client_metadata(client) for client in clients],
            "accounts": [account.as_json() for account in accounts],
        }
        self._log: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        self.process = subprocess.Popen(
            ["node", "server.js"],  # noqa: S607
            cwd=PEER_DIR,
            env={**os.environ, "OIDC_IDP_CONFIG": json.dumps(config)},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_until_serving()

    @staticmethod
    def _client_metadata(client: UpstreamClient) -> dict[str, Any]:
        return {
            "client_id": client.client_id,
            "client_secret": client.client_secret,
            "redirect_uris": list(client.redirect_uris),
            "token_endpoint_auth_method": client.token_endpoint_auth_method,
        }

    def _wait_until_serving(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if requests.get(self.discovery_url, timeout=2).ok:
                    return
            except requests.RequestException:  # not listening yet, or too busy to answer
                pass
            time.sleep(0.05)
        output, exit_code = self.output(), self.process.poll()
        self.stop()
        raise RuntimeError(
            f"the upstream OIDC IdP did not start (exit code {exit_code}) in {START_TIMEOUT} s:"
            f"\n{output}"
        )

    def output(self) -> str:
        """What node printed so far (warnings, errors)."""
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")

    def discovery(self) -> dict[str, Any]:
        response = requests.get(self.discovery_url, timeout=5)
        response.raise_for_status()
        return response.json()

    def add_client(
        self,
        *,
        redirect_uris: Sequence[str],
        client_id: str | None = None,
        client_secret: str | None = None,
        token_endpoint_auth_method: str = "client_secret_basic",  # noqa: S107 - a method name
        **metadata: Any,
    ) -> UpstreamClient:
        """Registers a confidential client (RFC 7591 dynamic registration). The id and secret
        are random unless given; registering an id again replaces that client."""
        body = {
            "client_id": client_id or f"rp-{secrets.token_hex(6)}",
            "client_secret": client_secret or secrets.token_urlsafe(32),
            "redirect_uris": list(redirect_uris),
            "token_endpoint_auth_method": token_endpoint_auth_method,
            **metadata,
        }
        response = requests.post(
            self.registration_url,
            json=body,
            headers={"Authorization": f"Bearer {self._admin_token}"},
            timeout=5,
        )
        assert response.status_code == 201, response.text
        registered = response.json()
        return UpstreamClient(
            client_id=registered["client_id"],
            client_secret=registered["client_secret"],
            redirect_uris=tuple(registered["redirect_uris"]),
            token_endpoint_auth_method=registered["token_endpoint_auth_method"],
        )

    def add_account(self, account: UpstreamAccount) -> UpstreamAccount:
        """A user who can sign in from now on (one with the same sub is replaced)."""
        response = requests.post(
            f"{self.issuer}/_test/accounts",
            json=account.as_json(),
            headers={"Authorization": f"Bearer {self._admin_token}"},
            timeout=5,
        )
        assert response.status_code == 204, response.text
        return account

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        self._log.close()


@pytest.fixture(scope="session")
def upstream_oidc_idp_factory() -> Iterator[Callable[..., UpstreamOIDCIdP]]:
    """`factory(clients=(), accounts=DEFAULT_ACCOUNTS) -> UpstreamOIDCIdP`: a running IdP,
    stopped at the end of the session."""
    started: list[UpstreamOIDCIdP] = []

    def start(
        *,
        clients: Sequence[UpstreamClient] = (),
        accounts: Sequence[UpstreamAccount] = DEFAULT_ACCOUNTS,
    ) -> UpstreamOIDCIdP:
        prepare_node_modules()
        idp = UpstreamOIDCIdP(clients=clients, accounts=accounts)
        started.append(idp)
        return idp

    yield start
    for idp in started:
        idp.stop()


@pytest.fixture(scope="session")
def upstream_oidc_idp(upstream_oidc_idp_factory) -> UpstreamOIDCIdP:
    """The session's company IdP, knowing `DEFAULT_ACCOUNTS` (ADA, GRACE) and no client yet."""
    return upstream_oidc_idp_factory()


@dataclass(frozen=True)
class LoginForm:
    """The IdP's login page as a browser sees it: where "Sign in" and "Cancel" post, the inputs
    by label and the buttons (a test posts `action` with `{"username": …, "password": …}`)."""

    action: str
    cancel_action: str
    labels: dict[str, str]  # label text -> the name of the input it labels
    buttons: tuple[str, ...]
    alert: str


class _LoginPageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[str] = []
        self.ids: dict[str, str] = {}  # input id -> name
        self.label_for: dict[str, str] = {}  # label text -> input id
        self.buttons: list[str] = []
        self.alert = ""
        self._text_target: str | None = None  # "label", "button" or "alert"
        self._closing_tag = ""
        self._label_id = ""
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append(attributes.get("action", ""))
        elif tag == "input" and "id" in attributes:
            self.ids[attributes["id"]] = attributes.get("name", "")
        elif tag in ("label", "button") or attributes.get("role") == "alert":
            self._text_target = "alert" if attributes.get("role") == "alert" else tag
            self._closing_tag = tag
            self._label_id = attributes.get("for", "")
            self._text = ""

    def handle_data(self, data: str) -> None:
        if self._text_target:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if self._text_target is None or tag != self._closing_tag:
            return
        text = " ".join(self._text.split())
        if self._text_target == "label":
            self.label_for[text] = self._label_id
        elif self._text_target == "button":
            self.buttons.append(text)
        else:
            self.alert = text
        self._text_target = None


def login_form(html: str) -> LoginForm:
    """The login page's two forms: "Sign in", then "Cancel"."""
    parser = _LoginPageParser()
    parser.feed(html)
    return LoginForm(
        action=parser.forms[0],
        cancel_action=parser.forms[1],
        labels={text: parser.ids.get(for_id, "") for text, for_id in parser.label_for.items()},
        buttons=tuple(parser.buttons),
        alert=parser.alert,
    )
