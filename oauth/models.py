"""Token models: DOT's, swapped so tokens, codes and signing keys follow Doorman's rules.

Access and refresh tokens are stored only as SHA-256 checksums (DOT's
COMPLIANT_BCP_RFC9700_TOKEN_STORAGE); authorization codes only as SHA-256 digests (our
validator); a database copy holds nothing that works as a credential.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
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


# Rounds of `RefreshToken.revoke_live`: each catches the tokens rotations committed while the
# previous one waited; one rotation at a time per family, so two suffice, and more are spare.
REVOKE_ROUNDS = 4


class RefreshToken(AbstractRefreshToken):
    """`token_family` is shared by every access and refresh token one grant started (a code,
    a password or jwt-bearer sign-in) and by all that its refreshes issued (SPEC §10)."""

    @classmethod
    def revoke_family(cls, token_family: uuid.UUID | None) -> bool:
        """DOT's set-wise family revocation (its reuse detection calls it too), doing what
        `AccessToken.revoke` adds to DOT's: see `revoke_families`."""
        if not token_family:
            return False
        return cls.revoke_families([token_family])

    @classmethod
    def revoke_families(cls, families, *, access_tokens: models.QuerySet | None = None) -> bool:
        """Revoke every refresh token of `families` (ids, or a subquery of them) and delete
        every access token of them, on every worker (SPEC §10); with `access_tokens`, those
        tokens too and any refresh token bound to them. Access tokens of a family are found
        by their own `token_family` and, for tokens issued before every access token had one,
        through the family's refresh tokens. Returns whether anything was still live.

        Refresh tokens are revoked first: a rotation in the family waits on their row locks,
        then finds its token revoked, so no member is issued once the access tokens are read.
        (DOT's fallback for two live members sharing a checksum is not needed here: refresh
        tokens are 256 random bits, oauth.tokens.)"""
        refresh = Q(token_family__in=families)
        access = Q(token_family__in=families) | Q(
            pk__in=cls.objects.filter(token_family__in=families).values("access_token_id")
        )
        if access_tokens is not None:
            refresh |= Q(access_token__in=access_tokens.values("pk"))
            access |= Q(pk__in=access_tokens.values("pk"))
        with transaction.atomic():
            revoked = cls.revoke_live(cls.objects.filter(refresh))
            deleted = AccessToken.objects.filter(access).revoke()
        return revoked > 0 or deleted > 0

    @classmethod
    def revoke_live(cls, refresh_tokens: models.QuerySet) -> int:
        """Revoke the live ones of `refresh_tokens` until none is left, and return how many.

        One UPDATE is not enough under PostgreSQL's READ COMMITTED: when it waits on the row
        lock of a refresh in progress, it never sees the refresh token that rotation inserts
        (not in its snapshot), which would stay live. A second statement sees it once the
        rotation committed; from then on the family has no live member a rotation could use
        (it waits on our locks and finds its token revoked). Bounded, for a family refreshed
        in a tight loop."""
        now = timezone.now()
        total = 0
        for round_ in range(REVOKE_ROUNDS):
            revoked = refresh_tokens.filter(revoked__isnull=True).update(revoked=now, updated=now)
            total += revoked
            # The first round may change nothing (the rotation it waited for revoked the old
            # token itself) and still have missed the new one: a second always runs.
            if round_ and not revoked:
                break
        return total


class IDToken(AbstractIDToken):
    pass


class Grant(AbstractGrant):
    """An authorization code; `code` holds the SHA-256 digest, never the code itself."""

    used_at = models.DateTimeField(null=True, blank=True)
    token_family = models.UUIDField(null=True, blank=True)


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
