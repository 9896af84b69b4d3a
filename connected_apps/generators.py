"""Client credentials generators (DOT's CLIENT_ID/CLIENT_SECRET_GENERATOR_CLASS seams)."""

import secrets

from oauth2_provider.generators import BaseHashGenerator


class ClientIdGenerator(BaseHashGenerator):
    """32 lowercase hex characters (SPEC §2)."""

    def hash(self) -> str:
        return secrets.token_hex(16)


class ClientSecretGenerator(BaseHashGenerator):
    """256 bits of entropy, URL-safe (never contains `$`, so never looks like a hash)."""

    def hash(self) -> str:
        return secrets.token_urlsafe(32)
