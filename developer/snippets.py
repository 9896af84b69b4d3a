"""The copy-paste code the playground shows, as plain text (the template escapes it)."""

from __future__ import annotations

PLACEHOLDER_CLIENT_ID = "YOUR_CLIENT_ID"
PLACEHOLDER_REDIRECT_URI = "https://app.example/callback"


def _attribute(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;")


def element(*, client_id: str, redirect_uri: str, scopes: str) -> str:
    return (
        f'<doorman-signin client-id="{_attribute(client_id or PLACEHOLDER_CLIENT_ID)}"\n'
        f'                redirect-uri="{_attribute(redirect_uri or PLACEHOLDER_REDIRECT_URI)}"\n'
        f'                scopes="{_attribute(scopes)}"></doorman-signin>'
    )


def embed(*, script_url: str, client_id: str, redirect_uri: str, scopes: str) -> str:
    """The page with the button."""
    return f'<script src="{_attribute(script_url)}"></script>\n' + element(
        client_id=client_id, redirect_uri=redirect_uri, scopes=scopes
    )


CALLBACK_SCRIPT = """<script>
  // {code, codeVerifier, nonce, redirectUri, clientId, issuer}: the state was checked already.
  document.addEventListener("doorman-signin", async (event) => {
    // Your backend redeems the code with the verifier and its client secret, verifies the
    // id_token's signature against the JWKS, and signs the user in to your app.
    const response = await fetch("/signin/doorman", {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify(event.detail),
    });
    const {id_token} = await response.json();
    if (!DoormanSignin.verifyNonce(id_token)) throw new Error("Replayed id_token.");
  });
  // {error, errorDescription}: access_denied (the user clicked Deny), invalid_state, …
  document.addEventListener("doorman-signin-error", (event) => {
    console.warn(event.detail.error, event.detail.errorDescription);
  });
</script>"""


def callback(*, script_url: str, client_id: str, redirect_uri: str, scopes: str) -> str:
    """The page at the redirect URI: the same element, and listeners for its events."""
    return embed(
        script_url=script_url, client_id=client_id, redirect_uri=redirect_uri, scopes=scopes
    ) + ("\n" + CALLBACK_SCRIPT)


def token_request(*, token_endpoint: str, redirect_uri: str) -> str:
    """What the app's backend sends to redeem the code (RFC 6749 §4.1.3, RFC 7636 §4.5)."""
    return (
        f"curl -X POST {token_endpoint} \\\n"
        '  -u "$CLIENT_ID:$CLIENT_SECRET" \\\n'
        "  -d grant_type=authorization_code \\\n"
        '  -d code="$CODE" \\\n'
        f"  --data-urlencode redirect_uri={redirect_uri or PLACEHOLDER_REDIRECT_URI} \\\n"
        '  -d code_verifier="$CODE_VERIFIER"'
    )
