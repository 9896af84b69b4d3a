"""Doorman's benchmark fixtures, through the project's own services; run by bench/run.py as
``manage.py shell -c "$(cat bench/doorman_fixtures.py)"`` after ``manage.py bootstrap``.

Creates a client_credentials app, a code-flow app (authorization_code + refresh_token), the
admin's consent to the code-flow app and a signed-in session for the admin; prints one line,
``FIXTURES {json}``, with the credentials and the session cookie. Tokens are minted afterwards
over HTTP against the running server (bench/run.py), so they are exactly what clients get.
"""

import json
import os
from importlib import import_module

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

from accounts.access import Access
from accounts.models import User
from connected_apps.services import connected_app_create
from oauth.services import authorization_grant

admin = User.objects.get(username=os.environ["BENCH_ADMIN"])
access = Access(user=admin)
org = admin.organization
robot = connected_app_create(
    access=access,
    owner=org,
    client_name="Bench robot",
    grant_types=["client_credentials"],
    scopes=[{"scope": "read:organization", "context_params": {"org": str(org.id)}}],
)
user_scopes = os.environ["BENCH_USER_SCOPES"].split()
web = connected_app_create(
    access=access,
    owner=org,
    client_name="Bench web app",
    grant_types=["authorization_code", "refresh_token"],
    redirect_uris=[os.environ["BENCH_REDIRECT_URI"]],
    scopes=user_scopes,
)
authorization_grant(user=admin, app=web.app, scopes=user_scopes)

session = import_module(settings.SESSION_ENGINE).SessionStore()
session[SESSION_KEY] = admin._meta.pk.value_to_string(admin)
session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
session[HASH_SESSION_KEY] = admin.get_session_auth_hash()
session.create()

print(
    "FIXTURES "
    + json.dumps(
        {
            "cc": {"client_id": robot.app.client_id, "client_secret": robot.client_secret},
            "code": {"client_id": web.app.client_id, "client_secret": web.client_secret},
            "cookie": f"{settings.SESSION_COOKIE_NAME}={session.session_key}",
        }
    )
)
