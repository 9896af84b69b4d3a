"""`manage.py rotate_signing_key`: a new active OIDC signing key (OIDC Core §10.1.1).

The previous key is retired but stays in the JWKS for as long as an ID token it signed can be
valid, so relying parties verify tokens signed before the rotation. Prints one JSON line:
{"kid": new, "retired": previous or null, "published": [kids in the JWKS]}.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from oauth.keys import published_keys, signing_key_rotate
from oauth.models import SigningKey


class Command(BaseCommand):
    help = "Rotate the OIDC signing key; the previous key stays published. Prints a JSON line."

    def handle(self, *args, **options) -> None:
        previous = SigningKey.objects.filter(is_active=True).values_list("kid", flat=True).first()
        created = signing_key_rotate()
        self.stdout.write(
            json.dumps(
                {
                    "kid": created.kid,
                    "retired": previous,
                    "published": [key["kid"] for key in published_keys()],
                }
            )
        )
