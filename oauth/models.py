"""Token models: DOT's, swapped so tokens, codes and signing keys follow Doorman's rules.

Access and refresh tokens are stored only as SHA-256 checksums (DOT's
COMPLIANT_BCP_RFC9700_TOKEN_STORAGE); authorization codes only as SHA-256 digests (our
validator); a database copy holds nothing that works as a credential.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from oauth2_provider.models import (
    AbstractAccessToken,
    AbstractGrant,
    AbstractIDToken,
    AbstractRefreshToken,
    TokenChecksumField,
)


class AccessTokenQuerySet(models.QuerySet):
    def revoke(self) -> int:
        """`AccessToken.revoke` for every token selected, set-wise: delete them. A worker that
        remembers one finds its row gone on the next request (oauth.principal_cache), so
        this is SPEC §10's "on the next request, everywhere". Returns how many were deleted."""
        _, counts = self.delete()
        return counts.get(self.model._meta.label, 0)


class AccessToken(AbstractAccessToken):
    """`application` is null for a user's own platform token (`POST /accounts/login`).

    Every token issued costs one entry in each of the table's indexes, so they are only the
    useful ones: the checksum's uniqueness without DOT's second, LIKE-only index on it, and
    the user and token-family indexes partial, since a client_credentials token has neither.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        blank=True,
        null=True,
        related_name="%(app_label)s_%(class)s",
        db_index=False,  # Meta.indexes
        verbose_name="user",
    )
    token_checksum = TokenChecksumField(max_length=64, verbose_name="token checksum")
    token_family = models.UUIDField(null=True, blank=True)

    objects = AccessTokenQuerySet.as_manager()

    class Meta(AbstractAccessToken.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["token_checksum"], name="oauth_accesstoken_token_checksum_unique"
            ),
        ]
        indexes = [
            models.Index(
                fields=["user"],
                condition=models.Q(user__isnull=False),
                name="oauth_accesstoken_user_set",
            ),
            models.Index(
                fields=["token_family"],
                condition=models.Q(token_family__isnull=False),
                name="oauth_accesstoken_family_set",
            ),
        ]


class RefreshToken(AbstractRefreshToken):
    """`token_family` is shared by every access and refresh token one grant started (a code,
    a password or jwt-bearer sign-in) and by all that its refreshes issued (SPEC §10).
    Revoking a family: oauth.services.token_families_revoke."""


class IDToken(AbstractIDToken):
    pass


class Grant(AbstractGrant):
    """An authorization code; `code` holds the SHA-256 digest, never the code itself."""

    used_at = models.DateTimeField(null=True, blank=True)
    token_family = models.UUIDField(null=True, blank=True)
    # How the user had authenticated when the code was issued (accounts.sign_ins), for the
    # ID token's auth_time, amr and acr (OIDC Core §2).
    auth_time = models.DateTimeField(null=True, blank=True)
    amr = models.JSONField(default=list, blank=True)


class UsedAssertion(models.Model):
    """A JWT `jti` seen once (RFC 7523 §3): kept until the assertion expires, then purged."""

    jti_digest = models.CharField(max_length=64, unique=True)
    client_id = models.CharField(max_length=100)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.client_id


class SigningKey(models.Model):
    """An OIDC signing key. The private half is encrypted with a key derived from SECRET_KEY.

    The active key signs; retired keys stay in the JWKS until the tokens they signed expire.
    """

    kid = models.CharField(max_length=64, unique=True)
    private_key_encrypted = models.BinaryField()
    public_jwk = models.JSONField()
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"],
                condition=models.Q(is_active=True),
                name="signing_key_one_active",
            ),
        ]

    def __str__(self) -> str:
        return self.kid
