"""A keyed SHA-256 digest for client secrets (DOT's CLIENT_SECRET_HASHER seam).

Client secrets are random 256-bit values: no dictionary to defend against, so a slow password
hash buys nothing and costs the token endpoint ~0.4 s per request. An HMAC keyed with a value
derived from SECRET_KEY means a stolen database alone cannot even confirm a guessed secret.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import lru_cache

from django.conf import settings
from django.contrib.auth.hashers import BasePasswordHasher, mask_hash
from django.utils.crypto import constant_time_compare


@lru_cache(maxsize=4)
def _key(secret_key: str) -> bytes:
    return hashlib.sha256(b"doorman-client-secret\x00" + secret_key.encode()).digest()


class ClientSecretHasher(BasePasswordHasher):
    algorithm = "doorman_hmac_sha256"

    def salt(self) -> str:
        return secrets.token_hex(8)

    def encode(self, password: str, salt: str) -> str:
        digest = hmac.new(
            _key(settings.SECRET_KEY), f"{salt}${password}".encode(), hashlib.sha256
        ).hexdigest()
        return f"{self.algorithm}${salt}${digest}"

    def decode(self, encoded: str) -> dict:
        algorithm, salt, digest = encoded.split("$", 2)
        return {"algorithm": algorithm, "salt": salt, "hash": digest}

    def verify(self, password: str, encoded: str) -> bool:
        salt = self.decode(encoded)["salt"]
        return constant_time_compare(encoded, self.encode(password, salt))

    def safe_summary(self, encoded: str) -> dict:
        decoded = self.decode(encoded)
        return {
            "algorithm": decoded["algorithm"],
            "salt": mask_hash(decoded["salt"]),
            "hash": mask_hash(decoded["hash"]),
        }

    def must_update(self, encoded: str) -> bool:
        return False

    def harden_runtime(self, password: str, encoded: str) -> None:
        """Nothing to even out: every check costs the same single HMAC."""
