"""The DOT peer's benchmark fixtures; run by bench/run.py as ``manage.py shell -c "$(cat …)"``.

A user, a confidential client_credentials app, a confidential authorization-code app with
``skip_authorization=True`` (DOT's way to say "already consented"), both with
``hash_client_secret`` from $BENCH_HASHED, and a signed-in session for the user. Prints one
line, ``FIXTURES {json}``; tokens are minted afterwards over HTTP against the running server.
"""

import json
import os
from importlib import import_module

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import User
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import Application

hashed = os.environ["BENCH_HASHED"] == "1"
user = User.objects.create_user("bench", "bench@example.com", "bench-password-not-used")


def application(**fields) -> dict:
    secret = generate_client_secret()
    app = Application.objects.create(
        user=user,
        client_type=Application.CLIENT_CONFIDENTIAL,
        client_secret=secret,
        hash_client_secret=hashed,
        **fields,
    )
    return {"client_id": app.client_id, "client_secret": secret}


robot = application(name="Bench robot", authorization_grant_type="client-credentials")
web = application(
    name="Bench web app",
    authorization_grant_type="authorization-code",
    redirect_uris=os.environ["BENCH_REDIRECT_URI"],
    skip_authorization=True,
)

session = import_module(settings.SESSION_ENGINE).SessionStore()
session[SESSION_KEY] = user._meta.pk.value_to_string(user)
session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
session[HASH_SESSION_KEY] = user.get_session_auth_hash()
session.create()

print(
    "FIXTURES "
    + json.dumps(
        {
            "cc": robot,
            "code": web,
            "cookie": f"{settings.SESSION_COOKIE_NAME}={session.session_key}",
        }
    )
)
