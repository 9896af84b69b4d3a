"""Audit log page tags: `{% audit_log_org as org %}` (the org/BG whose audit log the viewer may
read, or None) and `{{ event.details|audit_details }}` (an event's details as a reader wants
them, not as Python prints them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from accounts.access import access_for
from accounts.catalog import Permission
from accounts.selectors import organization_tree

register = template.Library()

EMPTY = "—"


def audit_log_org_for(user):
    """The first org/BG of the viewer's tree (root first) where they hold read:audit_logs."""
    if user is None or not user.is_authenticated or not hasattr(user, "organization"):
        return None
    access = access_for(user)
    tree = organization_tree(access=access)
    return next((o for o in tree if access.can(Permission.READ_AUDIT_LOGS, o)), None)


@register.simple_tag(takes_context=True)
def audit_log_org(context):
    request = context.get("request")
    return audit_log_org_for(getattr(request, "user", None))


def _label(key: Any) -> str:
    return str(key).replace("_", " ")


def detail_value(value: Any) -> SafeString:
    """One value, escaped: a list as chips, a boolean as Yes/No, nothing as a dash, a nested
    mapping as its own key → value list."""
    if value is None or value == "":
        return format_html('<span class="muted">{}</span>', EMPTY)
    if isinstance(value, bool):
        return format_html("{}", "Yes" if value else "No")
    if isinstance(value, list | tuple | set):
        if not value:
            return format_html('<span class="muted">{}</span>', "none")
        chips = format_html_join("", '<span class="audit-chip">{}</span>', ((v,) for v in value))
        return format_html('<span class="audit-chips">{}</span>', chips)
    if isinstance(value, Mapping):
        return _pairs(value)
    return format_html("{}", value)


def _pairs(mapping: Mapping[str, Any]) -> SafeString:
    if not mapping:
        return format_html('<span class="muted">{}</span>', EMPTY)
    rows = format_html_join(
        "",
        "<dt>{}</dt><dd>{}</dd>",
        ((_label(k), detail_value(v)) for k, v in sorted(mapping.items(), key=lambda i: str(i[0]))),
    )
    return format_html('<dl class="audit-details">{}</dl>', rows)


def _diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> SafeString:
    """Field, before, after; the fields that changed marked (and listed first)."""

    def changed(key: str) -> bool:
        return (key in before) != (key in after) or before.get(key) != after.get(key)

    keys = sorted({*before, *after}, key=lambda k: (not changed(k), str(k)))
    rows = format_html_join(
        "",
        '<tr{}><th scope="row">{}</th><td>{}</td><td>{}</td></tr>',
        (
            (
                format_html(' class="{}"', "audit-changed") if changed(k) else "",
                _label(k),
                detail_value(before.get(k)) if k in before else EMPTY,
                detail_value(after.get(k)) if k in after else EMPTY,
            )
            for k in keys
        ),
    )
    return format_html(
        '<table class="audit-diff"><thead><tr><th scope="col">Field</th>'
        '<th scope="col">Before</th><th scope="col">After</th></tr></thead>'
        "<tbody>{}</tbody></table>",
        rows,
    )


@register.filter
def audit_details(details: Any) -> SafeString:
    """An event's details: key → value, and `before`/`after` mappings as a diff table."""
    if not isinstance(details, Mapping):
        return detail_value(details)
    before, after = details.get("before"), details.get("after")
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        rest = {k: v for k, v in details.items() if k not in ("before", "after")}
        return format_html("{}{}", _pairs(rest) if rest else "", _diff(before, after))
    return _pairs(details)


TARGET_KINDS = {
    "connected_app": "App",
    "connectedapp": "App",
    "identityprovider": "Identity provider",
    "allowlist_entry": "Allowlist entry",
    "allowlistentry": "Allowlist entry",
}


@register.filter
def audit_kind(target_type: str) -> str:
    """A target type as a word: `connected_app` → App, `identityprovider` → Identity provider."""
    return TARGET_KINDS.get(target_type) or _label(target_type).capitalize()
