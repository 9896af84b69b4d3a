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
from audit.targets import DETAIL_REFERENCES, TargetLabel

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


# What a page knows of the targets it shows: (type, id) -> label (audit.targets).
Names = Mapping[tuple[str, str], TargetLabel]

# The key of a mapping in a list that says what the item is (an app's scope), shown first.
PRIMARY_KEYS = ("scope", "name")
# A reference key in words: `org` → org, `envId` → environment.
REFERENCE_WORDS = {"org": "org", "envId": "environment"}


def _text(value: Any) -> str:
    """A value inside a chip, as plain words (never a Python repr)."""
    if value is None or value == "":
        return EMPTY
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Mapping):
        return ", ".join(f"{_label(k)} {_text(v)}" for k, v in value.items()) or EMPTY
    if isinstance(value, list | tuple | set):
        return ", ".join(_text(v) for v in value) or "none"
    return str(value)


def _short_id(value: Any) -> str:
    text = str(value)
    return text[:8] + "…" if len(text) > 12 else text


def _mapping_chip(item: Mapping[Any, Any], names: Names) -> SafeString:
    """A mapping in a list as one chip: `read:organization · org Acme`, or with an id the page
    cannot name, `read:organization (org e6ba4d95…)` and the whole id in its title."""
    primary = next((k for k in PRIMARY_KEYS if isinstance(item.get(k), str) and item[k]), None)
    words = [str(item[primary])] if primary else []
    notes, ids = [], []
    for key, value in item.items():
        if key == primary:
            continue
        target_type = DETAIL_REFERENCES.get(key)
        word = REFERENCE_WORDS.get(key, _label(key))
        if target_type is None:
            words.append(f"{word} {_text(value)}")
            continue
        label = names.get((target_type, str(value)))
        if label is not None and not label.deleted:
            words.append(f"{word} {label.name}")
        else:
            notes.append(f"{word} {_short_id(value)}")
            ids.append(f"{word} {value}")
    text = " · ".join(words)
    if notes:
        text = f"{text} ({', '.join(notes)})" if text else ", ".join(notes)
    title = format_html(' title="{}"', "; ".join(ids)) if ids else ""
    return format_html('<span class="audit-chip"{}>{}</span>', title, text or EMPTY)


def detail_value(value: Any, names: Names | None = None) -> SafeString:
    """One value, escaped: a list as chips (a mapping in it as one chip of words), a boolean
    as Yes/No, nothing as a dash, a nested mapping as its own key → value list."""
    names = names or {}
    if value is None or value == "":
        return format_html('<span class="muted">{}</span>', EMPTY)
    if isinstance(value, bool):
        return format_html("{}", "Yes" if value else "No")
    if isinstance(value, list | tuple | set):
        if not value:
            return format_html('<span class="muted">{}</span>', "none")
        chips = format_html_join(
            "",
            "{}",
            (
                (
                    _mapping_chip(v, names)
                    if isinstance(v, Mapping)
                    else format_html('<span class="audit-chip">{}</span>', _text(v)),
                )
                for v in value
            ),
        )
        return format_html('<span class="audit-chips">{}</span>', chips)
    if isinstance(value, Mapping):
        return _pairs(value, names)
    return format_html("{}", value)


def _pairs(mapping: Mapping[str, Any], names: Names) -> SafeString:
    if not mapping:
        return format_html('<span class="muted">{}</span>', EMPTY)
    rows = format_html_join(
        "",
        "<dt>{}</dt><dd>{}</dd>",
        (
            (_label(k), detail_value(v, names))
            for k, v in sorted(mapping.items(), key=lambda i: str(i[0]))
        ),
    )
    return format_html('<dl class="audit-details">{}</dl>', rows)


def _diff(before: Mapping[str, Any], after: Mapping[str, Any], names: Names) -> SafeString:
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
                detail_value(before.get(k), names) if k in before else EMPTY,
                detail_value(after.get(k), names) if k in after else EMPTY,
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
def audit_details(details: Any, names: Names | None = None) -> SafeString:
    """An event's details: key → value, and `before`/`after` mappings as a diff table; with
    the page's `names`, the orgs and environments a detail refers to by name."""
    names = names or {}
    if not isinstance(details, Mapping):
        return detail_value(details, names)
    before, after = details.get("before"), details.get("after")
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        rest = {k: v for k, v in details.items() if k not in ("before", "after")}
        return format_html("{}{}", _pairs(rest, names) if rest else "", _diff(before, after, names))
    return _pairs(details, names)


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
