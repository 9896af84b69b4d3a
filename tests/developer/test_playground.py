"""The developer playground (/developer/playground): signed-in only, lists only the viewer's
sign-in apps, shows the live <doorman-signin> element and the snippet with what was picked."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import UserFactory

PLAYGROUND = "/developer/playground"


@pytest.fixture
def web(db):
    def make(user=None) -> Client:
        client = Client()
        if user is not None:
            client.force_login(user)
        return client

    return make


def test_anonymous_visitors_are_sent_to_sign_in(web):
    response = web().get(PLAYGROUND)
    assert response.status_code == 302
    assert response["Location"].startswith("/auth/login/?next=/developer/playground")


def test_an_admin_sees_the_live_button_the_snippet_and_the_references(web, admin):
    response = web(admin).get(PLAYGROUND)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Sign-in button playground</h1>" in html
    assert '<script src="/static/js/doorman-signin.js"></script>' in html
    assert '<doorman-signin client-id="" redirect-uri="" scopes="openid profile">' in html
    # The snippet embeds the script from the public base URL, unhashed.
    assert "&lt;script src=&quot;http://127.0.0.1:8000/static/js/doorman-signin.js&quot;" in html
    assert "&lt;doorman-signin client-id=&quot;YOUR_CLIENT_ID&quot;" in html
    assert 'href="/developer/api-docs"' in html
    assert 'href="/accounts/api/v2/oauth2/.well-known/openid-configuration"' in html
    assert 'href="/accounts/api/openapi.json"' in html


def test_only_the_viewers_sign_in_apps_are_offered(web, admin, make_app, other_admin, org):
    mine = make_app(client_name="Expense Tracker")
    make_app(
        client_name="CI Robot",
        grant_types=["client_credentials"],
        redirect_uris=[],
        scopes=[{"scope": "read:organization", "context_params": {"org": str(org.id)}}],
    )
    theirs = make_app(actor=other_admin, client_name="Globex Portal")
    response = web(admin).get(PLAYGROUND)
    assert [app.client_id for app in response.context["apps"]] == [mine.app.client_id]
    html = response.content.decode()
    assert "Expense Tracker" in html
    assert "CI Robot" not in html
    assert theirs.app.client_id not in html


def test_a_member_without_manage_connected_apps_is_offered_no_app(web, member, make_app):
    make_app()
    response = web(member).get(PLAYGROUND)
    assert response.status_code == 200
    assert response.context["apps"] == []
    assert "You manage no app that signs users in" in response.content.decode()


def test_picking_an_app_fills_in_its_client_id_redirect_uri_and_identity_scopes(
    web, admin, make_app
):
    created = make_app(
        redirect_uris=["https://tracker.example/callback", "https://tracker.example/other"],
        scopes=["openid", "email", "view:environment"],
    )
    client_id = created.app.client_id
    response = web(admin).get(PLAYGROUND, {"app": client_id})
    html = response.content.decode()
    assert (
        f'<doorman-signin client-id="{client_id}" redirect-uri="https://tracker.example/callback"'
        ' scopes="openid email">' in html
    )
    assert f"client-id=&quot;{client_id}&quot;" in html
    assert '<option value="https://tracker.example/other">' in html
    assert f'<option value="{client_id}" selected>' in html


def test_an_app_that_registered_the_playground_comes_back_to_it(web, admin, make_app):
    """Issue 16: the playground's own URL, when the app registered it, rather than the app's
    first redirect URI: the whole flow then ends here, where the outcome is shown."""
    playground = f"http://localhost{PLAYGROUND}"
    created = make_app(
        redirect_uris=["https://tracker.example/callback", playground],
        scopes=["openid"],
    )
    response = web(admin).get(PLAYGROUND, {"app": created.app.client_id}, HTTP_HOST="localhost")
    assert f'redirect-uri="{playground}"' in response.content.decode()


def test_another_tenants_app_cannot_be_picked(web, admin, make_app, other_admin):
    theirs = make_app(actor=other_admin)
    response = web(admin).get(PLAYGROUND, {"app": theirs.app.client_id})
    assert response.context["client_id"] == ""
    assert theirs.app.client_id not in response.content.decode()


def test_typed_settings_drive_the_button_and_an_unregistered_uri_is_flagged(web, admin, code_app):
    client_id = code_app.app.client_id
    response = web(admin).get(
        PLAYGROUND,
        {"client_id": client_id, "redirect_uri": "https://evil.example/cb", "scopes": " openid  "},
    )
    html = response.content.decode()
    assert (
        f'<doorman-signin client-id="{client_id}" redirect-uri="https://evil.example/cb"'
        ' scopes="openid">' in html
    )
    assert "https://evil.example/cb is not a redirect URI of Test App" in html


def test_typed_values_are_escaped(web, admin):
    response = web(admin).get(
        PLAYGROUND, {"client_id": '"><script>alert(1)</script>', "redirect_uri": "", "scopes": ""}
    )
    html = response.content.decode()
    assert "<script>alert(1)</script>" not in html
    assert 'client-id="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in html


def test_overlong_values_are_refused_not_echoed(web, admin):
    response = web(admin).get(
        PLAYGROUND, {"client_id": "x" * 101, "redirect_uri": "", "scopes": ""}
    )
    assert response.status_code == 200
    assert response.context["client_id"] == ""
    assert response.context["form"].errors["client_id"]


def test_the_playground_is_a_redirect_target_that_shows_the_outcome(web, admin):
    response = web(admin).get(PLAYGROUND, {"code": "abc", "state": "xyz"})
    html = response.content.decode()
    assert "Sign-in result" in html
    assert '<doorman-signin hidden redirect-uri="http://testserver/developer/playground">' in html


def test_an_ordinary_visit_has_no_result_panel(web, admin):
    assert "Sign-in result" not in web(admin).get(PLAYGROUND).content.decode()


def test_a_user_of_another_org_sees_only_their_own_apps(web, make_app, other_org):
    outsider = UserFactory(organization=other_org)
    make_app()
    assert web(outsider).get(PLAYGROUND).context["apps"] == []
