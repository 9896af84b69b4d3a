"""Doorman's own error pages for people (issue 16): with DEBUG off, as `bin/start` now runs, a
portal URL that fails shows Doorman's page, an API URL JSON (tests/accounts/test_api_errors.py).
The 500 and 400 pages stand alone: they are rendered without the request and read nothing."""

from __future__ import annotations

from django.test import RequestFactory

from core import api_errors


def test_a_server_error_on_a_portal_page_is_doormans_500_page():
    response = api_errors.json_server_error(RequestFactory().get("/connected-apps"))
    assert response.status_code == 500
    html = response.content.decode()
    assert "<h1>Something went wrong</h1>" in html
    assert 'href="/static/css/portal.css"' in html


def test_a_bad_request_on_a_portal_page_is_doormans_400_page():
    response = api_errors.json_bad_request(RequestFactory().get("/"), None)
    assert response.status_code == 400
    assert "<h1>Doorman could not read this request</h1>" in response.content.decode()
