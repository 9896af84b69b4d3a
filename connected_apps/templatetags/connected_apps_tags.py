"""Template helpers of the Connected Apps pages.

`{% manages_connected_apps as flag %}`: whether the navigation shows Connected Apps.
`{% administers_org_controls as flag %}`: whether it shows Authorized apps.
`{% authorized_app_names as names %}`: the apps the viewer allowed (the account page's My apps).
`{% app_signing_in_to as app %}`: the app whose authorization request sent the viewer to sign
in (the sign-in page names it).
`{{ when|ago }}`: "3 hours ago", "just now" (never "0 minutes ago").
`{{ scope|scope_code }}`: a scope code that may wrap after its ":" only (with `code.scope`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from django import template
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.safestring import SafeString
from django.utils.timesince import timesince

from accounts.access import access_for
from connected_apps.models import ConnectedApp
from connected_apps.selectors import app_owner_orgs, user_authorization_list

register = template.Library()


@register.simple_tag(takes_context=True)
def manages_connected_apps(context) -> bool:
    """True when the signed-in user may manage connected apps somewhere in their tree."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not getattr(user, "organization_id", None):
        return False
    return bool(app_owner_orgs(access=access_for(user)))


@register.simple_tag(takes_context=True)
def administers_org_controls(context) -> bool:
    """True when the signed-in user is an Organization Administrator of their root org (the
    navigation shows Authorized apps)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not getattr(user, "organization_id", None):
        return False
    return access_for(user).is_admin_of(user.organization)


@register.simple_tag(takes_context=True)
def authorized_app_names(context) -> list[str]:
    """Names of the apps the signed-in user allowed and has not revoked, newest first: what
    My apps lists, for pages of accounts, which cannot read connected_apps themselves."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return []
    return list(user_authorization_list(user=user).values_list("app__name", flat=True))


@register.simple_tag(takes_context=True)
def app_signing_in_to(context):
    """The connected app named by the `client_id` of the authorization request in the sign-in
    page's `next` (None for any other `next`). Its name is public: the consent screen shows
    it to anyone holding the same URL."""
    request = context.get("request")
    next_url = request.GET.get("next", "") if request is not None else ""
    parts = urlsplit(next_url)
    if parts.netloc or not parts.path.endswith("/oauth2/authorize"):
        return None
    client_id = (parse_qs(parts.query).get("client_id") or [""])[0]
    if not client_id or len(client_id) > 100:
        return None
    return ConnectedApp.objects.filter(client_id=client_id).only("name").first()


@register.filter
def ago(value: datetime | None) -> str:
    if not value:
        return ""
    if timezone.now() - value < timedelta(minutes=1):
        return "just now"
    return f"{timesince(value, depth=1)} ago"


@register.filter
def scope_code(value: object) -> str:
    """`read:organization` as `read:<wbr>organization`: a narrow screen wraps it at the colon,
    never inside a word (`code.scope` keeps the words whole)."""
    return format_html_join(SafeString(":<wbr>"), "{}", ((part,) for part in str(value).split(":")))
