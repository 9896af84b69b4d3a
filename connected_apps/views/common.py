"""What the Connected Apps pages share: the page mixin, resend protection and the page that
shows a client secret once."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers

from accounts.views import PortalMixin
from connected_apps.models import ConnectedApp

# Form submissions already acted on: {submission id: client id}. Only ids, never a secret.
DONE_SESSION_KEY = "connected_apps_done"
DONE_KEPT = 20


class ConnectedAppsPortalMixin(PortalMixin):
    """A signed-in page of Connected Apps (owned apps, Create App, app pages)."""

    nav_section = "connected_apps"


def submission_done(request: HttpRequest, submission_id: Any) -> str | None:
    """The client id a form with this submission id already acted on, if it did.

    A resent form (Back, reload, a double click) must not create a second app or rotate the
    secret the user has just copied: the page answers with the app instead.
    """
    return request.session.get(DONE_SESSION_KEY, {}).get(str(submission_id))


def submission_record(request: HttpRequest, submission_id: Any, client_id: str) -> None:
    done = dict(request.session.get(DONE_SESSION_KEY, {}))
    done[str(submission_id)] = client_id
    request.session[DONE_SESSION_KEY] = dict(list(done.items())[-DONE_KEPT:])


def secret_response(
    request: HttpRequest,
    *,
    app: ConnectedApp,
    client_secret: str,
    rotated: bool,
    context: dict[str, Any],
) -> HttpResponse:
    """The page that shows a client secret, once.

    It is the POST's own response: the secret is never put in the session, a message or a
    URL, and `no-store` keeps it out of every cache, so nothing can show it again.
    """
    response = TemplateResponse(
        request,
        "connected_apps/app_secret.html",
        {**context, "app": app, "client_secret": client_secret, "rotated": rotated},
    )
    add_never_cache_headers(response)
    return response
