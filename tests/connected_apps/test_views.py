"""Connected Apps portal pages and My apps: rendering, who may see and do what, tenant
isolation, the Create App form for each app type, the secret shown once, confirmations, the
scopes editor and the usage panel."""

from __future__ import annotations

import logging
import re
import uuid

import pytest
from django.contrib.auth.hashers import check_password
from django.test import Client
from django.urls import reverse

from accounts.catalog import Permission
from connected_apps.models import AppScope, AppUsageDay, Authorization, ConnectedApp
from connected_apps.services import (
    GRANT_TYPES_REQUIRED,
    REFRESH_TOKEN_ALONE,
    SCOPE_NOT_FOR_OWN_BEHALF,
)
from connected_apps.usage import usage_record_token_issued, usage_rollup
from connected_apps.validation import REDIRECT_URI_NOT_HTTPS
from connected_apps.views import ALREADY_CREATED, NO_MANAGED_ORG
from connected_apps.views.common import DONE_SESSION_KEY
from oauth.models import AccessToken
from oauth.principals import access_token_resolve
from oauth.services import authorization_grant
from tests.connected_apps.test_api import rsa_public_pem
from tests.factories import (
    AdminRoleFactory,
    EnvironmentFactory,
    OrganizationFactory,
    PermissionGrantFactory,
    UserFactory,
)
from tests.oauth.helpers import mint_access_token

pytestmark = pytest.mark.django_db

LIST = reverse("connected_apps:app_list")
CREATE = reverse("connected_apps:app_create")
MY_APPS = reverse("connected_apps:my_apps")
NO_STORE = "no-store"


def web(user=None, **kwargs) -> Client:
    client = Client(**kwargs)
    if user is not None:
        client.force_login(user)
    return client


def url(name: str, app: ConnectedApp) -> str:
    return reverse(f"connected_apps:{name}", args=[app.client_id])


def app_pages(app: ConnectedApp) -> list[str]:
    return [url(n, app) for n in ("app_detail", "app_rotate_secret", "app_delete", "app_disable")]


def app_posts(app: ConnectedApp) -> dict[str, dict]:
    """Every form of an app's pages, with valid data."""
    confirm = {"confirm": "yes", "submission_id": str(uuid.uuid4())}
    return {
        url("app_edit", app): {"client_name": "Taken over", "website_url": ""},
        url("app_scopes", app): {"scopes": ["read:users"]},
        url("app_enabled", app): {"enabled": "false"},
        url("app_rotate_secret", app): confirm,
        url("app_delete", app): confirm,
        url("app_disable", app): confirm,
    }


def stat(html: str, name: str) -> str:
    match = re.search(rf'data-stat="{name}">(.*?)</dd>', html, re.S)
    assert match, name
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def ticked(html: str, name: str, value) -> bool:
    """Whether the page has the checkbox `name`=`value`, ticked."""
    match = re.search(rf'<input type="checkbox" name="{name}" value="{value}"[^>]*>', html)
    assert match, (name, value)
    return " checked" in match.group(0)


def create_form(org, **overrides) -> dict:
    """A valid Create App form for an app acting on behalf of users."""
    data = {
        "submission_id": str(uuid.uuid4()),
        "client_name": "Expense Tracker",
        "app_type": "user",
        "grant_types": ["authorization_code", "refresh_token"],
        "redirect_uris": "https://expenses.example/callback\r\nhttp://localhost:8080/cb\r\n",
        "website_url": "https://expenses.example",
        "public_keys": "",
        "audience": "everyone",
        "scopes": ["openid", "profile", "offline_access", "view:environment"],
        "owner": str(org.id),
    }
    data.update(overrides)
    return data


@pytest.fixture
def business_group(org):
    return OrganizationFactory(name="Retail", parent=org)


@pytest.fixture
def production(org):
    return EnvironmentFactory(organization=org, name="Production", type="production")


@pytest.fixture
def retail_sandbox(business_group):
    return EnvironmentFactory(organization=business_group, name="Retail Sandbox")


@pytest.fixture
def app_manager(org, business_group):
    """A member holding manage:connected_apps in the Retail BG only."""
    user = UserFactory(organization=org, username="retail-dev")
    PermissionGrantFactory(
        user=user, organization=business_group, permission=Permission.MANAGE_CONNECTED_APPS
    )
    return user


# ---------------------------------------------------------------------------------------------
# Rendering and navigation
# ---------------------------------------------------------------------------------------------
def test_every_page_renders_for_an_admin(admin, code_app, cc_app, production):
    client = web(admin)
    authorization_grant(user=admin, app=code_app.app, scopes=["openid", "email"])
    pages = [
        LIST,
        CREATE,
        MY_APPS,
        url("my_app_revoke", code_app.app),
        *app_pages(code_app.app),
        *app_pages(cc_app.app),
    ]
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        assert "<title>" in response.content.decode()


def test_navigation_shows_connected_apps_to_managers_and_my_apps_to_everyone(
    admin, member, app_manager
):
    for user, shows in ((admin, True), (app_manager, True), (member, False)):
        html = web(user).get(MY_APPS).content.decode()
        assert (f'href="{LIST}"' in html) is shows, user
        assert f'href="{MY_APPS}" aria-current="page"' in html


def test_pages_require_sign_in(code_app):
    for page in [LIST, CREATE, MY_APPS, *app_pages(code_app.app)]:
        response = web().get(page)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))


# ---------------------------------------------------------------------------------------------
# Owned apps
# ---------------------------------------------------------------------------------------------
def test_owned_apps_list_shows_each_apps_columns(admin, code_app, cc_app):
    authorization_grant(user=admin, app=code_app.app, scopes=["openid"])
    usage_record_token_issued(app=code_app.app)
    html = web(admin).get(LIST).content.decode()
    assert code_app.app.client_id in html
    assert "On behalf of a user" in html
    assert "On its own behalf" in html
    assert "Acme" in html
    assert "Enabled" in html
    assert "just now" in html  # last used
    assert "Never" in html  # the CI robot was never used
    row = html[html.index(code_app.app.client_id) :]
    assert re.search(r'class="numeric">1</td>', row)  # one user


def test_owned_apps_search_and_pagination(admin, make_app):
    for n in range(26):
        make_app(client_name=f"App {n:02d}")
    client = web(admin)
    first = client.get(LIST).content.decode()
    assert "Page 1 of 2" in first
    assert first.count('class="client-id"') == 25
    second = client.get(LIST, {"page": 2}).content.decode()
    assert second.count('class="client-id"') == 1
    found = client.get(LIST, {"q": "App 07"}).content.decode()
    assert found.count('class="client-id"') == 1
    none = client.get(LIST, {"q": "nothing like it"}).content.decode()
    assert "No app matches" in none


def test_empty_state_invites_to_create_an_app(admin):
    html = web(admin).get(LIST).content.decode()
    assert "You have no connected apps yet." in html
    assert f'href="{CREATE}"' in html


def test_member_without_manage_connected_apps_gets_403_everywhere(member, code_app):
    client = web(member)
    for page in [LIST, CREATE, *app_pages(code_app.app)]:
        response = client.get(page)
        assert response.status_code == 403, page
    assert NO_MANAGED_ORG in client.get(LIST).content.decode()
    for target, data in app_posts(code_app.app).items():
        assert client.post(target, data).status_code == 403, target
    assert client.post(CREATE, create_form(member.organization)).status_code == 403
    app = ConnectedApp.objects.get(pk=code_app.app.pk)
    assert app.name == "Test App"
    assert app.enabled
    assert ConnectedApp.objects.count() == 1


def test_a_bg_app_manager_sees_and_creates_only_in_their_bg(
    app_manager, business_group, org, make_app
):
    root_app = make_app(client_name="Root App").app
    bg_app = make_app(client_name="Retail App", owner=business_group).app
    client = web(app_manager)
    html = client.get(LIST).content.decode()
    assert "Retail App" in html
    assert "Root App" not in html
    assert client.get(url("app_detail", bg_app)).status_code == 200
    assert client.get(url("app_detail", root_app)).status_code == 403
    form = client.get(CREATE).content.decode()
    assert f'<option value="{business_group.id}"' in form
    assert f'<option value="{org.id}"' not in form.split('name="owner"')[1].split("</select>")[0]
    refused = client.post(CREATE, create_form(org))  # the root org is not a choice
    assert refused.status_code == 200
    assert "Select a valid choice" in refused.content.decode()
    created = client.post(CREATE, create_form(business_group, client_name="Retail Two"))
    assert created.status_code == 200
    assert ConnectedApp.objects.get(name="Retail Two").owner_org == business_group


# ---------------------------------------------------------------------------------------------
# Tenant isolation
# ---------------------------------------------------------------------------------------------
def test_another_tenant_gets_404_on_every_app_page_and_post(other_admin, code_app, cc_app):
    client = web(other_admin)
    for app in (code_app.app, cc_app.app):
        for page in app_pages(app):
            assert client.get(page).status_code == 404, page
        for target, data in app_posts(app).items():
            assert client.post(target, data).status_code == 404, target
    assert "Test App" not in client.get(LIST).content.decode()
    assert ConnectedApp.objects.filter(root_org=code_app.app.root_org).count() == 2
    assert ConnectedApp.objects.get(pk=code_app.app.pk).enabled


def test_another_tenant_cannot_pick_foreign_owners_or_contexts(other_admin, org, production):
    client = web(other_admin)
    form = client.get(CREATE).content.decode()
    assert str(org.id) not in form
    assert str(production.id) not in form
    response = client.post(
        CREATE,
        create_form(
            org,
            app_type="own",
            scopes=["view:environment"],
            envs_view_environment=[str(production.id)],
        ),
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not ConnectedApp.objects.filter(root_org=other_admin.organization).exists()


# ---------------------------------------------------------------------------------------------
# Create App
# ---------------------------------------------------------------------------------------------
def test_create_an_app_acting_for_users(admin, org, caplog):
    caplog.set_level(logging.DEBUG)
    client = web(admin)
    response = client.post(CREATE, create_form(org))

    assert response.status_code == 200
    app = ConnectedApp.objects.get(name="Expense Tracker")
    assert app.grant_types == ["authorization_code", "refresh_token"]
    assert app.redirect_uris.split() == [
        "https://expenses.example/callback",
        "http://localhost:8080/cb",
    ]
    assert app.audience == "everyone"
    assert app.website_url == "https://expenses.example"
    assert app.owner_org == org
    assert app.user == admin
    assert sorted(AppScope.objects.filter(app=app).values_list("scope", flat=True)) == [
        "offline_access",
        "openid",
        "profile",
        "view:environment",
    ]
    secret = response.context["client_secret"]
    html = response.content.decode()
    assert app.client_id in html
    assert secret in html
    assert check_password(secret, app.client_secret)  # stored only as a hash
    assert secret != app.client_secret
    assert NO_STORE in response["Cache-Control"]
    assert "will not be shown again" in html
    assert "Expense Tracker created." in html
    # Nowhere else: not in the session, not in a message, not in the logs.
    session_values = str(dict(client.session.items()))
    assert secret not in session_values
    assert secret not in caplog.text
    detail = client.get(url("app_detail", app)).content.decode()
    assert secret not in detail
    assert "Expense Tracker created." not in detail  # the message was shown once, with it


def test_create_an_app_acting_on_its_own_behalf_with_contexts(
    admin, org, business_group, production, retail_sandbox
):
    response = web(admin).post(
        CREATE,
        create_form(
            org,
            client_name="Deploy Robot",
            app_type="own",
            # What the flow leaves out for this type is ignored if sent anyway.
            redirect_uris="http://insecure.example/cb",
            audience="everyone",
            scopes=["view:environment", "read:organization", "read:users"],
            orgs_view_environment=[str(business_group.id)],
            envs_view_environment=[str(production.id)],
            orgs_read_organization=[str(org.id), str(business_group.id)],
        ),
    )
    assert response.status_code == 200, response.context["form"].errors
    app = ConnectedApp.objects.get(name="Deploy Robot")
    assert app.grant_types == ["client_credentials"]
    assert app.redirect_uris == ""
    assert app.audience == "internal"
    assert set(
        AppScope.objects.filter(app=app).values_list(
            "scope", "context_org_id", "context_environment_id"
        )
    ) == {
        ("view:environment", org.id, production.id),
        ("view:environment", business_group.id, None),
        ("read:organization", org.id, None),
        ("read:organization", business_group.id, None),
        ("read:users", org.id, None),  # nothing chosen: the owner org
    }
    assert response.context["client_secret"] in response.content.decode()


def test_create_a_jwt_bearer_app_with_a_pem_key(admin, org):
    pem = rsa_public_pem()
    response = web(admin).post(
        CREATE,
        create_form(
            org,
            client_name="Signer",
            grant_types=["urn:ietf:params:oauth:grant-type:jwt-bearer"],
            redirect_uris="",
            public_keys=pem,
            scopes=["openid"],
        ),
    )
    assert response.status_code == 200
    app = ConnectedApp.objects.get(name="Signer")
    assert app.public_keys == [pem.strip() + "\n"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"redirect_uris": "http://evil.example/cb"}, "Redirect URIs must use https"),
        ({"grant_types": []}, GRANT_TYPES_REQUIRED),
        ({"grant_types": ["refresh_token"]}, REFRESH_TOKEN_ALONE),
        ({"redirect_uris": ""}, "authorization_code apps need at least one redirect URI."),
        (
            {"grant_types": ["urn:ietf:params:oauth:grant-type:jwt-bearer"], "public_keys": ""},
            "jwt-bearer apps need at least one public key.",
        ),
        ({"public_keys": "not a key"}, "Public key 0 is not a PEM or JWK public key."),
        ({"client_name": ""}, "This field is required."),
        ({"website_url": "ftp://files.example"}, "website_url must be an http(s) URL."),
        (
            {"app_type": "own", "scopes": ["openid"]},
            SCOPE_NOT_FOR_OWN_BEHALF.format(scope="openid"),
        ),
        ({"scopes": ["no:such:scope"]}, "Select a valid choice."),
        ({"owner": str(uuid.uuid4())}, "Select a valid choice."),
    ],
)
def test_invalid_input_shows_errors_and_creates_nothing(admin, org, overrides, message):
    response = web(admin).post(CREATE, create_form(org, **overrides))
    assert response.status_code == 200
    html = response.content.decode()
    assert "field-error" in html or "message-error" in html
    assert message.replace("'", "&#x27;") in html
    assert response.context.get("client_secret") is None
    assert not ConnectedApp.objects.exists()
    assert "https://expenses.example" in html  # the answers are kept for another try


def test_an_environment_of_another_org_is_refused_as_context(
    admin, org, business_group, production
):
    response = web(admin).post(
        CREATE,
        create_form(
            org,
            owner=str(business_group.id),
            app_type="own",
            scopes=["view:environment"],
            envs_view_environment=[str(production.id)],  # Acme's, not Retail's
        ),
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "context_params.org must be an org or business group of the owner." in html
    assert not ConnectedApp.objects.exists()


def test_a_resent_create_form_creates_nothing_and_shows_no_secret(admin, org):
    client = web(admin)
    # The form page itself is never kept: Back fetches it afresh, with a new submission id.
    assert NO_STORE in client.get(CREATE)["Cache-Control"]
    data = create_form(org)
    first = client.post(CREATE, data)
    secret = first.context["client_secret"]
    again = client.post(CREATE, data)
    app = ConnectedApp.objects.get()
    assert again.status_code == 302
    assert again["Location"] == url("app_detail", app)
    followed = client.get(again["Location"]).content.decode()
    assert ALREADY_CREATED in followed
    assert secret not in followed
    assert list(client.session[DONE_SESSION_KEY].values()) == [app.client_id]


def test_create_needs_csrf(admin, org):
    client = web(admin, enforce_csrf_checks=True)
    assert client.post(CREATE, create_form(org)).status_code == 403
    assert not ConnectedApp.objects.exists()


# ---------------------------------------------------------------------------------------------
# The app's page: settings, enable/disable, scopes
# ---------------------------------------------------------------------------------------------
def test_detail_shows_every_field(admin, code_app):
    app = code_app.app
    html = web(admin).get(url("app_detail", app)).content.decode()
    for text in (
        app.client_id,
        "Authorization code",
        "Refresh token",
        "https://client.example/callback",
        "Members of this organization only",
        "Know your username and unique id",
        "view:environment",
        "by acme-admin",
    ):
        assert text in html, text
    assert code_app.client_secret not in html


def test_edit_settings(admin, code_app):
    app = code_app.app
    client = web(admin)
    response = client.post(
        url("app_edit", app),
        {
            "client_name": "Expenses",
            "grant_types": ["authorization_code"],
            "redirect_uris": "https://a.example/cb\nhttps://b.example/cb",
            "website_url": "https://a.example",
            "audience": "everyone",
            "public_keys": "",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == url("app_detail", app)
    app.refresh_from_db()
    assert app.name == "Expenses"
    assert app.grant_types == ["authorization_code"]
    assert app.redirect_uris == "https://a.example/cb https://b.example/cb"
    assert app.audience == "everyone"
    assert "Settings of Expenses saved." in client.get(url("app_detail", app)).content.decode()


def test_invalid_settings_show_errors_and_change_nothing(admin, code_app):
    app = code_app.app
    response = web(admin).post(
        url("app_edit", app),
        {
            "client_name": "Changed",
            "grant_types": ["authorization_code"],
            "redirect_uris": "http://evil.example/cb",
            "website_url": "",
            "audience": "internal",
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert REDIRECT_URI_NOT_HTTPS.format(uri="http://evil.example/cb") in html
    assert 'value="Changed"' in html  # the answers are kept
    app.refresh_from_db()
    assert app.name == "Test App"


def test_own_behalf_settings_have_no_redirect_uris_or_audience(admin, cc_app):
    app = cc_app.app
    html = web(admin).get(url("app_detail", app)).content.decode()
    assert 'name="redirect_uris"' not in html
    assert 'name="audience"' not in html
    response = web(admin).post(
        url("app_edit", app), {"client_name": "CI Bot", "redirect_uris": "https://x.example/"}
    )
    assert response.status_code == 302
    app.refresh_from_db()
    assert app.name == "CI Bot"
    assert app.redirect_uris == ""


def test_disable_and_enable(admin, code_app, member):
    app = code_app.app
    authorization_grant(user=member, app=app, scopes=["openid"])
    token = mint_access_token(user=member, app=app, scope="openid")
    client = web(admin)
    assert client.get(url("app_enabled", app)).status_code == 405

    response = client.post(url("app_enabled", app), {"enabled": "false"})
    assert response.status_code == 302
    app.refresh_from_db()
    assert not app.enabled
    assert access_token_resolve(token) is None  # its tokens stop working at once
    html = client.get(url("app_detail", app)).content.decode()
    assert "is disabled" in html
    assert "Disabled" in html
    assert ">Enable</button>" in html

    client.post(url("app_enabled", app), {"enabled": "true"})
    app.refresh_from_db()
    assert app.enabled
    assert access_token_resolve(token) is not None


def test_disable_asks_first_on_a_page_of_its_own(admin, code_app, member):
    """Issue 16: like deleting or rotating, not the browser's confirm()."""
    app = code_app.app
    token = mint_access_token(user=member, app=app, scope="openid")
    client = web(admin)
    detail = client.get(url("app_detail", app)).content.decode()
    assert f'href="{url("app_disable", app)}">Disable</a>' in detail
    assert "data-confirm" not in detail
    page = client.get(url("app_disable", app)).content.decode()
    assert f"Disable {app.name}?" in page and "stops working at once" in page
    app.refresh_from_db()
    assert app.enabled  # asking changed nothing
    unconfirmed = client.post(url("app_disable", app), {})
    assert unconfirmed.status_code == 302 and unconfirmed["Location"] == url("app_disable", app)
    app.refresh_from_db()
    assert app.enabled
    done = client.post(
        url("app_disable", app), {"confirm": "yes", "submission_id": str(uuid.uuid4())}
    )
    assert done.status_code == 302 and done["Location"] == url("app_detail", app)
    app.refresh_from_db()
    assert not app.enabled
    assert access_token_resolve(token) is None


def test_scopes_of_an_app_acting_for_users(admin, code_app):
    app = code_app.app
    response = web(admin).post(url("app_scopes", app), {"scopes": ["openid", "email"]})
    assert response.status_code == 302
    assert sorted(AppScope.objects.filter(app=app).values_list("scope", flat=True)) == [
        "email",
        "openid",
    ]


def test_scopes_of_an_own_behalf_app_with_contexts(admin, cc_app, org, business_group, production):
    app = cc_app.app
    page = web(admin).get(url("app_detail", app)).content.decode()
    assert 'name="orgs_read_organization"' in page
    assert 'value="openid"' not in page  # special scopes are not offered to it
    response = web(admin).post(
        url("app_scopes", app),
        {
            "scopes": ["view:environment", "manage:users"],
            "envs_view_environment": [str(production.id)],
            "orgs_manage_users": [str(business_group.id)],
        },
    )
    assert response.status_code == 302
    assert set(
        AppScope.objects.filter(app=app).values_list(
            "scope", "context_org_id", "context_environment_id"
        )
    ) == {
        ("view:environment", org.id, production.id),
        ("manage:users", business_group.id, None),
    }
    # The editor shows them back as they are.
    html = web(admin).get(url("app_detail", app)).content.decode()
    assert ticked(html, "envs_view_environment", production.id)
    assert ticked(html, "orgs_manage_users", business_group.id)
    assert not ticked(html, "orgs_manage_users", org.id)
    assert not ticked(html, "orgs_view_environment", org.id)  # the environment, not all of Acme


def test_invalid_scopes_show_errors_and_change_nothing(admin, cc_app):
    app = cc_app.app
    before = set(AppScope.objects.filter(app=app).values_list("scope", flat=True))
    response = web(admin).post(url("app_scopes", app), {"scopes": ["openid"]})
    assert response.status_code == 400
    assert SCOPE_NOT_FOR_OWN_BEHALF.format(scope="openid") in response.content.decode()
    assert set(AppScope.objects.filter(app=app).values_list("scope", flat=True)) == before


# ---------------------------------------------------------------------------------------------
# Rotate the secret, delete the app: POST from a confirmation page only
# ---------------------------------------------------------------------------------------------
def test_rotate_secret_needs_post_and_confirmation(admin, code_app):
    app = code_app.app
    old_hash = app.client_secret
    client = web(admin)

    page = client.get(url("app_rotate_secret", app))
    assert page.status_code == 200
    assert "stops working immediately" in page.content.decode()
    # The current secret stops at once: the button says so as Delete's and Disable's do.
    assert re.search(r'class="button button-danger-solid">Rotate secret<', page.content.decode())
    assert ConnectedApp.objects.get(pk=app.pk).client_secret == old_hash

    unconfirmed = client.post(url("app_rotate_secret", app))
    assert unconfirmed.status_code == 302
    assert unconfirmed["Location"] == url("app_rotate_secret", app)
    assert ConnectedApp.objects.get(pk=app.pk).client_secret == old_hash

    data = {"confirm": "yes", "submission_id": str(uuid.uuid4())}
    rotated = client.post(url("app_rotate_secret", app), data)
    assert rotated.status_code == 200
    assert NO_STORE in rotated["Cache-Control"]
    secret = rotated.context["client_secret"]
    assert secret in rotated.content.decode()
    app.refresh_from_db()
    assert check_password(secret, app.client_secret)
    assert not check_password(code_app.client_secret, app.client_secret)
    assert secret not in client.get(url("app_detail", app)).content.decode()

    # Sent again (Back, reload): no second rotation, no secret.
    again = client.post(url("app_rotate_secret", app), data)
    assert again.status_code == 302
    assert ConnectedApp.objects.get(pk=app.pk).client_secret == app.client_secret


def test_the_settings_say_when_redirect_uris_are_needed_as_create_app_does(admin, code_app):
    page = web(admin).get(url("app_detail", code_app.app)).content.decode()
    label = re.search(r'<label for="id_redirect_uris">.*?</label>', page, re.S).group(0)
    assert "(required for authorization code)" in label
    assert "(optional)" not in label


def test_delete_needs_post_and_confirmation(admin, code_app, member):
    app = code_app.app
    token = mint_access_token(user=member, app=app, scope="openid")
    client = web(admin)
    page = client.get(url("app_delete", app)).content.decode()
    assert "This cannot be undone." in page
    assert re.search(r'class="button button-danger-solid">Delete app<', page)
    assert ConnectedApp.objects.filter(pk=app.pk).exists()
    client.post(url("app_delete", app), {"submission_id": str(uuid.uuid4())})
    assert ConnectedApp.objects.filter(pk=app.pk).exists()

    response = client.post(
        url("app_delete", app), {"confirm": "yes", "submission_id": str(uuid.uuid4())}
    )
    assert response.status_code == 302
    assert response["Location"] == LIST
    assert not ConnectedApp.objects.filter(pk=app.pk).exists()
    assert access_token_resolve(token) is None
    assert "Test App deleted." in client.get(LIST).content.decode()
    assert client.get(url("app_detail", app)).status_code == 404


def test_confirmed_actions_need_csrf(admin, code_app):
    client = web(admin, enforce_csrf_checks=True)
    data = {"confirm": "yes", "submission_id": str(uuid.uuid4())}
    assert client.post(url("app_delete", code_app.app), data).status_code == 403
    assert client.post(url("app_rotate_secret", code_app.app), data).status_code == 403
    assert client.post(url("app_enabled", code_app.app), {"enabled": "false"}).status_code == 403
    assert ConnectedApp.objects.get(pk=code_app.app.pk).enabled


# ---------------------------------------------------------------------------------------------
# Usage panel
# ---------------------------------------------------------------------------------------------
def test_usage_panel_numbers_move_with_tokens_and_authorizations(admin, code_app, other_org):
    app = code_app.app
    client = web(admin)
    html = client.get(url("app_detail", app)).content.decode()
    assert (stat(html, "organizations"), stat(html, "users"), stat(html, "last-used")) == (
        "0",
        "0",
        "Never",
    )
    assert "No token requests in the last 30 days." in html  # the empty state, no chart

    usage_record_token_issued(app=app)
    usage_record_token_issued(app=app)
    authorization_grant(user=admin, app=app, scopes=["openid"])
    ConnectedApp.objects.filter(pk=app.pk).update(audience="everyone")
    outsider = UserFactory(organization=other_org)
    authorization_grant(user=outsider, app=app, scopes=["openid"])

    html = client.get(url("app_detail", app)).content.decode()
    assert stat(html, "organizations") == "2"
    assert stat(html, "users") == "2"
    assert stat(html, "last-used") == "just now"
    assert "2 tokens issued in the last 30 days" in html
    assert html.count('class="chart-bar"') == 1
    assert 'role="img"' in html
    assert "<caption" in html  # the table fallback
    # The counts were pending in the cache; the beat task moves them into the day's row.
    assert usage_rollup() == 2
    assert AppUsageDay.objects.get(app=app).tokens_issued == 2
    html = client.get(url("app_detail", app)).content.decode()
    assert "2 tokens issued in the last 30 days" in html


# ---------------------------------------------------------------------------------------------
# My apps
# ---------------------------------------------------------------------------------------------
def test_my_apps_lists_live_authorizations_in_plain_words(member, code_app, make_app):
    other = make_app(client_name="Old Tool").app
    authorization_grant(user=member, app=code_app.app, scopes=["openid", "email"])
    old = authorization_grant(user=member, app=other, scopes=["openid"])
    Authorization.objects.filter(pk=old.pk).update(revoked_at=old.created_at)

    html = web(member).get(MY_APPS).content.decode()
    assert "Test App" in html
    assert "Old Tool" not in html
    assert "Read your email address" in html
    assert "Know your username and unique id" in html
    assert "by Acme" in html
    assert f'href="{url("my_app_revoke", code_app.app)}"' in html


def test_my_apps_empty_state(member):
    assert "You have not authorized any app." in web(member).get(MY_APPS).content.decode()


def test_revoke_in_my_apps_needs_confirmation_and_kills_tokens(member, code_app):
    app = code_app.app
    authorization_grant(user=member, app=app, scopes=["openid", "profile"])
    token = mint_access_token(user=member, app=app, scope="openid profile")
    client = web(member)

    page = client.get(url("my_app_revoke", app))
    assert page.status_code == 200
    assert "Revoke access of Test App?" in page.content.decode()
    client.post(url("my_app_revoke", app))  # not from the confirmation page
    assert access_token_resolve(token) is not None

    response = client.post(
        url("my_app_revoke", app), {"confirm": "yes", "submission_id": str(uuid.uuid4())}
    )
    assert response.status_code == 302
    assert response["Location"] == MY_APPS
    assert access_token_resolve(token) is None
    assert not AccessToken.objects.filter(user=member, application=app).exists()
    assert Authorization.objects.get(user=member, app=app).revoked_at is not None
    html = client.get(MY_APPS).content.decode()
    assert "Access of Test App revoked." in html
    assert "You have not authorized any app." in html
    assert client.get(url("my_app_revoke", app)).status_code == 404


def test_another_users_authorization_cannot_be_revoked_in_my_apps(member, admin, code_app):
    authorization_grant(user=member, app=code_app.app, scopes=["openid"])
    data = {"confirm": "yes", "submission_id": str(uuid.uuid4())}
    for user in (admin, UserFactory(organization=member.organization)):
        client = web(user)
        assert "Test App" not in client.get(MY_APPS).content.decode()
        assert client.get(url("my_app_revoke", code_app.app)).status_code == 404
        assert client.post(url("my_app_revoke", code_app.app), data).status_code == 404
    assert Authorization.objects.get(user=member).revoked_at is None


def test_revoke_in_my_apps_needs_csrf(member, code_app):
    authorization_grant(user=member, app=code_app.app, scopes=["openid"])
    client = web(member, enforce_csrf_checks=True)
    data = {"confirm": "yes", "submission_id": str(uuid.uuid4())}
    assert client.post(url("my_app_revoke", code_app.app), data).status_code == 403
    assert Authorization.objects.get(user=member).revoked_at is None


def test_an_admin_of_a_bg_only_sees_connected_apps(org, business_group, make_app):
    bg_admin = UserFactory(organization=org, username="bg-admin")
    AdminRoleFactory(user=bg_admin, organization=business_group)
    make_app(client_name="Retail App", owner=business_group)
    html = web(bg_admin).get(LIST).content.decode()
    assert "Retail App" in html
