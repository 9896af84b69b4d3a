"""`manage.py bootstrap`: one JSON line, idempotent, never steals another org's user."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.access import Access
from accounts.catalog import Role
from accounts.models import Organization, RoleGrant, User
from audit.models import AuditEvent

PASSWORD = "a-long-and-unusual-passphrase-42"
OTHER_PASSWORD = "another-long-passphrase-for-root"


def bootstrap(**options) -> dict:
    out = StringIO()
    args = {
        "org": "Initech",
        "admin": "root",
        "password": PASSWORD,
        "email": "root@initech.example",
    } | options
    call_command("bootstrap", *[f"--{name}={value}" for name, value in args.items()], stdout=out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1, lines
    data = json.loads(lines[0])
    assert set(data) == {"org_id", "user_id"}
    return data


def test_bootstrap_creates_the_org_and_its_admin(db):
    data = bootstrap()
    org = Organization.objects.get(id=data["org_id"])
    user = User.objects.get(id=data["user_id"])
    assert org.name == "Initech"
    assert org.is_root
    assert user.organization == org
    assert user.username == "root"
    assert user.email == "root@initech.example"
    assert user.check_password(PASSWORD)
    assert Access(user=user).is_admin_of(org)


def test_bootstrap_is_idempotent_and_updates_the_password(db):
    first = bootstrap()
    second = bootstrap(password=OTHER_PASSWORD, email="new@initech.example")
    assert first == second
    assert Organization.objects.count() == 1
    assert User.objects.count() == 1
    assert RoleGrant.objects.filter(role=Role.ORGANIZATION_ADMINISTRATOR).count() == 1
    user = User.objects.get()
    assert user.check_password(OTHER_PASSWORD)
    assert not user.check_password(PASSWORD)
    assert user.email == "new@initech.example"


def test_bootstrap_matches_names_case_insensitively(db):
    first = bootstrap()
    assert bootstrap(org="INITECH", admin="Root") == first
    assert Organization.objects.count() == 1
    assert User.objects.count() == 1


def test_bootstrap_restores_a_lost_admin_role_and_reenables_the_admin(db):
    data = bootstrap()
    RoleGrant.objects.all().delete()
    User.objects.filter(id=data["user_id"]).update(is_active=False)
    assert bootstrap() == data
    user = User.objects.get()
    assert user.is_active
    assert Access(user=user).is_admin_of(user.organization)


def test_bootstrap_adds_a_new_admin_to_an_existing_org(db):
    first = bootstrap()
    second = bootstrap(admin="second", email="second@initech.example")
    assert second["org_id"] == first["org_id"]
    assert second["user_id"] != first["user_id"]
    assert RoleGrant.objects.filter(role=Role.ORGANIZATION_ADMINISTRATOR).count() == 2


def test_bootstrap_refuses_an_admin_of_another_org(db):
    bootstrap(org="Globex", admin="hank", email="hank@globex.example")
    before = (Organization.objects.count(), User.objects.count(), RoleGrant.objects.count())
    events = AuditEvent.objects.count()
    with pytest.raises(CommandError, match="already belongs to another organization"):
        bootstrap(org="Initech", admin="HANK")
    assert (Organization.objects.count(), User.objects.count(), RoleGrant.objects.count()) == (
        before
    )
    assert AuditEvent.objects.count() == events
    assert not Organization.objects.filter(name="Initech").exists()
    hank = User.objects.get(username="hank")
    assert hank.organization.name == "Globex"
    assert hank.check_password(PASSWORD)


def test_bootstrap_refuses_an_admin_of_another_existing_org(db):
    bootstrap(org="Globex", admin="hank", email="hank@globex.example")
    bootstrap(org="Initech", admin="root")
    with pytest.raises(CommandError, match="already belongs to another organization"):
        bootstrap(org="Initech", admin="hank", password=OTHER_PASSWORD)
    assert User.objects.get(username="hank").check_password(PASSWORD)


@pytest.mark.parametrize(
    "options",
    [{"password": "123"}, {"email": "not-an-email"}, {"admin": "bad name"}, {"org": "   "}],
)
def test_bootstrap_reports_bad_input_as_a_command_error(db, options):
    with pytest.raises(CommandError):
        bootstrap(**options)
    assert not Organization.objects.exists()
    assert not User.objects.exists()


def test_bootstrap_refuses_a_weak_password_on_update_too(db):
    bootstrap()
    with pytest.raises(CommandError):
        bootstrap(password="123")
    assert User.objects.get().check_password(PASSWORD)


def test_bootstrap_requires_every_option(db):
    with pytest.raises(CommandError):
        call_command("bootstrap", "--org=Initech", "--admin=root", stdout=StringIO())


def test_bootstrap_errors_name_the_option(db):
    with pytest.raises(CommandError) as exc_info:
        bootstrap(email="nope", admin="bad name")
    message = str(exc_info.value)
    assert "email: Enter a valid email address." in message
    assert "admin: Usernames are" in message
