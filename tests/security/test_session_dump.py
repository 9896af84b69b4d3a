"""Attack: a copy of the database (a backup, a dump, a read-only SQL hole) yields working
portal sessions (issue 12 item 10).

The attacker reads every row of the session table and sends each stored key as the
`sessionid` cookie. Doorman stores only a digest of each key, so none of them signs in, and
the key a browser holds appears nowhere in the table.
"""

from __future__ import annotations

from importlib import import_module

import pytest
import requests
from django.conf import settings
from django.db import connection

from tests.factories import DEFAULT_PASSWORD
from tests.oauth.test_token_e2e import submit_form

pytestmark = pytest.mark.django_db(transaction=True)

SIGN_IN_PATH = "/auth/login/"


def portal_sign_in(http: requests.Session, base: str, username: str) -> requests.Session:
    """Sign in through the portal's sign-in page, as a browser would."""
    page = http.get(base + SIGN_IN_PATH)
    assert page.status_code == 200, page.status_code
    signed_in = submit_form(http, page, "password", login=username, password=DEFAULT_PASSWORD)
    assert signed_in.status_code == 302, signed_in.status_code
    return http


def session_tables() -> list[str]:
    """Every table that holds portal sessions: the configured store's, and Django's default
    one (rows left there from before would be in a dump too)."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    tables = {store.get_model_class()._meta.db_table, "django_session"}
    return sorted(table for table in tables if table in connection.introspection.table_names())


def dumped_rows() -> list[tuple[str, dict]]:
    """(table, row) for every row of every session table, as `SELECT *` shows it."""
    rows = []
    with connection.cursor() as cursor:
        for table in session_tables():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            columns = [column[0] for column in cursor.description]
            rows += [(table, dict(zip(columns, values, strict=True))) for values in cursor]
    return rows


def test_a_dumped_session_key_does_not_sign_in(http, urls, admin):
    victim = portal_sign_in(http(), urls["base"], admin.username)
    cookie = victim.cookies[settings.SESSION_COOKIE_NAME]
    assert victim.get(urls["profile"]).json()["username"] == admin.username

    rows = dumped_rows()
    assert rows, "the signed-in session is stored somewhere"
    attacker = http()
    for table, row in rows:
        attacker.cookies.set(settings.SESSION_COOKIE_NAME, str(row["session_key"]))
        response = attacker.get(urls["profile"])
        assert response.status_code == 401, (table, response.status_code)
        attacker.cookies.clear()

    for table, row in rows:
        assert all(cookie not in str(value) for value in row.values()), table
    assert victim.get(urls["profile"]).status_code == 200
