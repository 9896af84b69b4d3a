"""WSGI entry point (gunicorn config.wsgi; bin/serve runs it behind config/asgi.py)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()

from oauth.wsgi import token_fast_path  # noqa: E402 (needs the settings configured above)

application = token_fast_path(application)
