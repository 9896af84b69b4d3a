"""One rule for the small line above every portal page's title (its eyebrow): a page of the
side menu names its menu group as plain text; any other page is a breadcrumb of links to its
parent pages."""

from __future__ import annotations

import re

from django.test import Client
from django.urls import reverse

from tests.factories import IdentityProviderFactory

SECTIONS = {"Access Management", "Your account", "Developers"}
EYEBROW = re.compile(r'<(p|nav)\b([^>]*)\bclass="eyebrow[^"]*"[^>]*>(.*?)</\1>', re.S)


def eyebrow(html: str) -> tuple[str, str, str]:
    found = EYEBROW.findall(html)
    assert len(found) == 1, found
    return found[0]


def test_every_portal_pages_eyebrow_is_its_section_or_a_breadcrumb(admin, org, member, code_app):
    client = Client()
    client.force_login(admin)
    provider = IdentityProviderFactory(organization=org, name="Corporate IdP")
    app = code_app.app
    top_level = {
        reverse("portal:home"): "Access Management",
        reverse("portal:organization_tree"): "Access Management",
        reverse("portal:users"): "Access Management",
        reverse("portal:environment_list", args=[org.id]): "Access Management",
        reverse("connected_apps:app_list"): "Access Management",
        reverse("connected_apps:authorized_apps"): "Access Management",
        reverse("audit:log"): "Access Management",
        reverse("portal:account"): "Your account",
        reverse("connected_apps:my_apps"): "Your account",
        reverse("portal:sessions"): "Your account",
        reverse("developer:playground"): "Developers",
    }
    # Each child page: the labels and addresses of its parents, outermost first.
    users = reverse("portal:user_list", args=[org.id])
    organization = reverse("portal:organization_tree")
    org_page = reverse("portal:organization_detail", args=[org.id])
    apps = reverse("connected_apps:app_list")
    app_page = reverse("connected_apps:app_detail", args=[app.client_id])
    children = {
        org_page: [("Organization", organization)],
        reverse("portal:user_permissions", args=[org.id, member.id]): [("Users", users)],
        reverse("portal:identity_provider_detail", args=[org.id, provider.id]): [
            ("Organization", organization),
            (org.name, org_page),
        ],
        reverse("connected_apps:app_create"): [("Connected Apps", apps)],
        app_page: [("Connected Apps", apps)],
        reverse("connected_apps:app_delete", args=[app.client_id]): [
            ("Connected Apps", apps),
            (app.name, app_page),
        ],
        "/auth/password/change/": [("Account", reverse("portal:account"))],
    }

    for url, section in top_level.items():
        response = client.get(url)
        assert response.status_code == 200, url
        tag, attributes, text = eyebrow(response.content.decode())
        assert (tag, text.strip()) == ("p", section), url
        assert section in SECTIONS
    for url, parents in children.items():
        response = client.get(url)
        assert response.status_code == 200, url
        tag, attributes, text = eyebrow(response.content.decode())
        assert tag == "nav" and 'aria-label="Breadcrumb"' in attributes, url
        links = re.findall(r'<li><a href="([^"]+)">([^<]+)</a></li>', text)
        assert links == [(href, label) for label, href in parents], url
        # Nothing but the links: no section name, no "·" facts.
        words = " ".join(re.sub(r"<[^>]+>", " ", text).split())
        assert words == " ".join(label for label, _ in parents), url
    # The old labels are gone for good.
    for url in [*top_level, *children]:
        assert "Root organization" not in eyebrow(client.get(url).content.decode())[2], url
