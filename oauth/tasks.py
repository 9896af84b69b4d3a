"""Authorization-server housekeeping (beat, config/celery.py): expired credentials go."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.db import statement_timeout_lifted
from oauth.models import AccessToken, Grant, IDToken, RefreshToken, UsedAssertion


@shared_task(name="oauth.purge_expired")
@statement_timeout_lifted()  # long by nature; no request waits for it
def oauth_purge_expired() -> dict:
    """Delete what can no longer be used or replayed, and return how many of each.

    - refresh tokens past their lifetime (DOORMAN_REFRESH_TOKEN_LIFETIME), revoked or not:
      a revoked one is kept until then so a replay is still recognised as reuse;
    - expired access tokens no live refresh token points to;
    - expired ID tokens no remaining access token holds (deleting one that an access token
      holds would cascade to that access token);
    - authorization codes past their expiry;
    - jwt-bearer `jti`s whose assertion has expired.
    """
    now = timezone.now()
    refresh_cutoff = now - timedelta(seconds=settings.DOORMAN_REFRESH_TOKEN_LIFETIME)
    with transaction.atomic():
        refresh, _ = RefreshToken.objects.filter(created__lt=refresh_cutoff).delete()
    with transaction.atomic():
        access = AccessToken.objects.filter(expires__lt=now, refresh_token__isnull=True)
        access_count = access.count()
        access.delete()
    with transaction.atomic():
        id_tokens, _ = IDToken.objects.filter(expires__lt=now, access_token__isnull=True).delete()
    with transaction.atomic():
        grants, _ = Grant.objects.filter(expires__lt=now).delete()
    with transaction.atomic():
        assertions, _ = UsedAssertion.objects.filter(expires_at__lt=now).delete()
    return {
        "access_tokens": access_count,
        "refresh_tokens": refresh,
        "id_tokens": id_tokens,
        "authorization_codes": grants,
        "used_assertions": assertions,
    }
