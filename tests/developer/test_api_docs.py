"""The API docs page (/developer/api-docs): Swagger UI over the OpenAPI schema, with every
asset served from static/ (drf-spectacular-sidecar), nothing from a CDN."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders

API_DOCS = "/developer/api-docs"


@pytest.mark.django_db
def test_swagger_ui_loads_the_schema_and_assets_from_this_server(client):
    response = client.get(API_DOCS)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'url: "/accounts/api/openapi.json"' in html
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources, html
    for source in sources:
        assert source.startswith("/"), f"{source} is not served by Doorman"
    bundle = "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
    assert bundle in sources
    assert finders.find(bundle.removeprefix("/static/"))
    assert "validatorUrl" in html and '"validatorUrl": null' in html


@pytest.mark.django_db
def test_the_docs_link_back_to_the_playground(client):
    html = client.get(API_DOCS).content.decode()
    assert 'href="/developer/playground"' in html


def test_the_docs_lead_back_to_the_portal(client):
    html = client.get(API_DOCS).content.decode()
    assert '<a href="/">← Back to the portal</a>' in html
