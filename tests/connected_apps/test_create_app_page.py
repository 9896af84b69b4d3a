"""The Create App page as a browser without JavaScript gets it: the questions in the order their
answers depend on each other (owner before scopes), contexts as labelled checkboxes listing
every org/BG and environment, redirect URIs labelled required for authorization code, errors
named by the fields' aria-describedby, and the name field focused first.

What the page sends is decided by the service (tests/connected_apps/test_views.py)."""

from __future__ import annotations

import re
import uuid

import pytest
from django.test import Client
from django.urls import reverse

from connected_apps.models import ConnectedApp
from connected_apps.services.cleaning import REDIRECT_URIS_REQUIRED
from tests.factories import EnvironmentFactory, OrganizationFactory

pytestmark = pytest.mark.django_db

CREATE = reverse("connected_apps:app_create")


def page_for(user) -> str:
    client = Client()
    client.force_login(user)
    return client.get(CREATE).content.decode()


def sent(user, **overrides) -> str:
    data = {
        "submission_id": str(uuid.uuid4()),
        "client_name": "Expense Tracker",
        "app_type": "user",
        "grant_types": ["authorization_code"],
        "redirect_uris": "https://expenses.example/callback",
        "audience": "internal",
        "owner": str(user.organization.id),
    }
    data.update(overrides)
    client = Client()
    client.force_login(user)
    response = client.post(CREATE, data)
    assert response.status_code == 200
    return response.content.decode()


def tag(html: str, pattern: str) -> str:
    match = re.search(pattern, html)
    assert match, pattern
    return match.group(0)


@pytest.fixture
def tree(org):
    retail = OrganizationFactory(name="Retail", parent=org)
    outlet = OrganizationFactory(name="Outlet", parent=retail)
    names = ["Production", "Sandbox", "Staging", "QA", "Design", "Load test"]
    environments = [EnvironmentFactory(organization=org, name=n) for n in names]
    environments.append(EnvironmentFactory(organization=outlet, name="Outlet Sandbox"))
    return {"retail": retail, "outlet": outlet, "environments": environments}


def test_the_owner_comes_before_the_scopes_and_the_review(admin):
    html = page_for(admin)
    name = html.index('name="client_name"')
    app_type = html.index('name="app_type"')
    owner = html.index('name="owner"')
    grants = html.index('name="grant_types"')
    scopes = html.index('name="scopes"')
    assert name < app_type < owner < grants < scopes
    # Whole steps that do not apply to an app acting on its own behalf are marked so.
    sign_in_step = tag(html, r'<section[^>]*data-step-title="Sign-in"[^>]*>')
    assert 'data-step-for-type="user"' in sign_in_step


def test_contexts_are_checkboxes_listing_every_org_and_environment(admin, org, tree):
    html = page_for(admin)
    assert "<select multiple" not in html and "multiple>" not in html
    legend = tag(html, r"<legend>Where <code>view:environment</code> applies.*?</legend>")
    assert "if you tick none, it applies in the owner organization" in legend
    for context in (org, tree["retail"], tree["outlet"]):
        box = tag(
            html, rf'<input type="checkbox" name="orgs_view_environment" value="{context.id}"[^>]*>'
        )
        box_id = re.search(r'id="([^"]+)"', box).group(1)
        assert re.search(rf'<label for="{box_id}">{context.name}', html)
    for environment in tree["environments"]:
        box = tag(
            html,
            rf'<input type="checkbox" name="envs_view_environment" value="{environment.id}"[^>]*>',
        )
        box_id = re.search(r'id="([^"]+)"', box).group(1)
        label = tag(html, rf'<label for="{box_id}">.*?</label>')
        assert environment.name in label
        assert environment.organization.name in label  # "Acme: Production", for screen readers
    # A scope without environments offers no environment to tick.
    assert 'name="envs_read_users"' not in html


def test_redirect_uris_and_public_keys_say_when_they_are_required(admin):
    html = page_for(admin)
    redirect = tag(html, r'<label for="id_redirect_uris">.*?</label>')
    assert "(required for authorization code)" in redirect
    assert "optional" not in redirect.replace('class="optional"', "")
    keys = tag(html, r'<label for="id_public_keys">.*?</label>')
    assert "(required for JWT bearer)" in keys
    assert tag(html, r'<div data-for-grant="authorization_code">\s*<div class="field')


def test_a_missing_redirect_uri_is_an_error_named_by_the_field(admin):
    html = sent(admin, redirect_uris="")
    textarea = tag(html, r'<textarea name="redirect_uris"[^>]*>')
    assert 'aria-invalid="true"' in textarea
    described_by = re.search(r'aria-describedby="([^"]+)"', textarea).group(1).split()
    assert "id_redirect_uris_error" in described_by
    errors = tag(html, r'<div class="field-errors" id="id_redirect_uris_error">.*?</div>')
    assert REDIRECT_URIS_REQUIRED in errors
    assert not ConnectedApp.objects.exists()
    # The answers stay, and the name is not focused over the error.
    assert "autofocus" not in tag(html, r'<input type="text" name="client_name"[^>]*>')


def test_group_errors_are_named_by_their_fieldset(admin):
    html = sent(admin, grant_types=[])
    fieldset = tag(html, r"<fieldset[^>]*data-grants[^>]*>")
    assert 'aria-describedby="id_grant_types_error"' in fieldset
    assert 'id="id_grant_types_error"' in html


def test_the_name_field_is_focused_first(admin):
    html = page_for(admin)
    assert "autofocus" in tag(html, r'<input type="text" name="client_name"[^>]*>')
    assert html.count("autofocus") == 1


def test_an_own_behalf_app_ignores_the_sign_in_answers(admin):
    client = Client()
    client.force_login(admin)
    response = client.post(
        CREATE,
        {
            "submission_id": str(uuid.uuid4()),
            "client_name": "Deploy Robot",
            "app_type": "own",
            "grant_types": ["authorization_code"],
            "website_url": "https://ignored.example",
            "audience": "everyone",
            "owner": str(admin.organization.id),
            "scopes": ["read:users"],
        },
    )
    assert response.status_code == 200
    app = ConnectedApp.objects.get(name="Deploy Robot")
    assert app.grant_types == ["client_credentials"]
    assert app.website_url == ""
    assert app.audience == "internal"


def test_the_first_thing_to_tab_to_skips_to_the_main_content(admin):
    html = page_for(admin)
    body = html[html.index("<body") :]
    first = tag(body, r"<(a|button|input|select|textarea)\b[^>]*>")
    assert first == '<a class="skip-link" href="#main">'
    assert ">Skip to main content</a>" in body
    assert '<main id="main"' in body
