"""The Audit log page as an investigator reads it (issue 16): readable details, targets and
actors by name with links, date filters that refuse bad input, a layout that fits, and an
activity chart. All over HTTP with Django's test client."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from audit.models import AuditAction
from audit.services import audit_record

pytestmark = pytest.mark.django_db
PAGE = "/access-management/audit/"


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def text_of(html: bytes) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.decode()))


# ---- 1. Readable details --------------------------------------------------------------------


def test_details_read_as_key_value_not_python_reprs(org, admin):
    audit_record(
        action=AuditAction.TOKEN_ISSUED,
        organization=org,
        actor=admin,
        details={"scopes": ["openid", "profile"], "offline": True, "nonce": None},
    )
    body = signed_in(admin).get(PAGE).content.decode()
    assert "['openid', 'profile']" not in body and "None" not in text_of(body.encode())
    assert '<span class="audit-chip">openid</span><span class="audit-chip">profile</span>' in body
    assert "<dt>offline</dt><dd>Yes</dd>" in body
    assert '<dt>nonce</dt><dd><span class="muted">—</span></dd>' in body


def test_before_and_after_are_a_diff_table_with_the_changes_marked(org, admin):
    audit_record(
        action=AuditAction.APP_UPDATED,
        organization=org,
        actor=admin,
        details={
            "client_id": "abc",
            "before": {"name": "Old", "enabled": True, "scopes": ["a"]},
            "after": {"name": "New", "enabled": True, "scopes": ["a", "b"]},
        },
    )
    body = signed_in(admin).get(PAGE).content.decode()
    assert "{'enabled': True" not in body
    table = body[body.index('<table class="audit-diff">') :]
    table = table[: table.index("</table>")]
    assert '<th scope="col">Field</th>' in table
    assert (
        '<tr class="audit-changed"><th scope="row">name</th><td>Old</td><td>New</td></tr>' in table
    )
    assert '<tr><th scope="row">enabled</th><td>Yes</td><td>Yes</td></tr>' in table
    assert table.count("audit-changed") == 2  # name and scopes, not enabled
    assert "<dt>client id</dt><dd>abc</dd>" in body


def test_details_are_escaped(org, admin):
    audit_record(
        action=AuditAction.USER_PROFILE_CHANGED,
        organization=org,
        actor=admin,
        details={"<b>k</b>": "<script>alert(1)</script>", "list": ["<i>x</i>"]},
    )
    body = signed_in(admin).get(PAGE).content.decode()
    assert "<script>alert(1)</script>" not in body and "<i>x</i>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "&lt;b&gt;k&lt;/b&gt;" in body
