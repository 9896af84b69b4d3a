"""Writes: validation messages, authorization, anti-escalation, atomicity and audit events."""

from __future__ import annotations

import json
import threading
import time

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, connections

from accounts import services
from accounts.access import Access
from accounts.catalog import Permission, Role
from accounts.models import (
    Environment,
    IdentityProvider,
    Organization,
    PermissionGrant,
    RoleGrant,
    User,
)
from accounts.services import (
    BUSINESS_GROUP_NAME_TAKEN,
    BUSINESS_GROUP_TOO_DEEP,
    CANNOT_CHANGE_ROLE,
    CANNOT_GRANT_UNHELD_PERMISSION,
    EMAIL_INVALID,
    ENVIRONMENT_NAME_TAKEN,
    ENVIRONMENT_NOT_IN_ORGANIZATION,
    ENVIRONMENT_TYPE_INVALID,
    IDENTITY_PROVIDER_NAME_TAKEN,
    LAST_ADMINISTRATOR,
    NAME_INVALID,
    NAME_REQUIRED,
    NAME_TOO_LONG,
    NOT_A_MEMBER,
    ORGANIZATION_NAME_TAKEN,
    PASSWORD_REQUIRED,
    PERMISSION_UNKNOWN,
    PERMISSIONS_NOT_A_LIST,
    PERSON_NAME_TOO_LONG,
    ROLE_UNKNOWN,
    USERNAME_INVALID,
    USERNAME_TAKEN,
)
from audit.models import AuditAction, AuditEvent
from audit.services import RequestMeta
from tests.factories import (
    DEFAULT_PASSWORD,
    AdminRoleFactory,
    EnvironmentFactory,
    IdentityProviderFactory,
    OrganizationFactory,
    PermissionGrantFactory,
    UserFactory,
)

NEW_PASSWORD = "a-long-and-unusual-passphrase-42"
ADMIN_ROLE = Role.ORGANIZATION_ADMINISTRATOR.value


@pytest.fixture
def bg(org):
    return OrganizationFactory(name="Engineering", parent=org)


def grant(user, permission, org=None, environment=None):
    return PermissionGrantFactory(
        user=user,
        permission=permission,
        organization=org or user.organization,
        environment=environment,
    )


def access_of(user, scopes=None) -> Access:
    """A fresh Access: grants written by a test are always seen."""
    return Access(user=user, scopes=scopes)


def messages(exc_info, field: str) -> list[str]:
    return exc_info.value.message_dict[field]


def only_event(action: AuditAction) -> AuditEvent:
    events = list(AuditEvent.objects.filter(action=action))
    assert len(events) == 1, events
    return events[0]


def grants_of(user, org) -> set[tuple[str, object]]:
    return set(
        PermissionGrant.objects.filter(user=user, organization=org).values_list(
            "permission", "environment_id"
        )
    )


# -- organization_create_root / organization_signup --------------------------------------------
def test_organization_create_root_writes_the_org_and_one_event(db):
    org = services.organization_create_root(name="  Initech  ")
    assert org.name == "Initech"
    assert org.is_root
    assert org.path == f"/{org.id}/"
    event = only_event(AuditAction.ORGANIZATION_CREATED)
    assert event.organization == org
    assert event.actor_user is None
    assert event.target_id == str(org.id)


@pytest.mark.parametrize(
    ("name", "message"),
    [("", NAME_REQUIRED), ("   ", NAME_REQUIRED), ("x" * 101, NAME_TOO_LONG)],
)
def test_organization_create_root_refuses_bad_names(db, name, message):
    with pytest.raises(ValidationError) as exc_info:
        services.organization_create_root(name=name)
    assert messages(exc_info, "name") == [message]
    assert not Organization.objects.exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("name", ["Bad\x00Name", "Tab\tName", "Line\nbreak"])
def test_names_with_control_characters_are_refused(db, name):
    with pytest.raises(ValidationError) as exc_info:
        services.organization_create_root(name=name)
    assert messages(exc_info, "name") == [NAME_INVALID]


def test_root_org_names_are_unique_case_insensitively(org):
    with pytest.raises(ValidationError) as exc_info:
        services.organization_create_root(name="ACME")
    assert messages(exc_info, "name") == [ORGANIZATION_NAME_TAKEN]
    assert Organization.objects.count() == 1


def test_organization_signup_creates_org_admin_and_role(db):
    result = services.organization_signup(
        org_name="Initech",
        username="Peter",
        email="peter@initech.example",
        password=NEW_PASSWORD,
        first_name="Peter",
        last_name="Gibbons",
        meta=RequestMeta(client_ip="203.0.113.9", user_agent="pytest"),
    )
    org, user = result.organization, result.admin
    assert user.organization == org
    assert user.check_password(NEW_PASSWORD)
    assert RoleGrant.objects.filter(user=user, organization=org, role=ADMIN_ROLE).exists()
    assert Access(user=user).is_admin_of(org)
    event = only_event(AuditAction.USER_CREATED)
    assert event.actor_user == user
    assert event.target_id == str(user.id)
    assert event.client_ip == "203.0.113.9"
    assert NEW_PASSWORD not in json.dumps(event.details)
    assert "password" not in event.details


def test_organization_signup_refuses_a_taken_username_case_insensitively(admin):
    with pytest.raises(ValidationError) as exc_info:
        services.organization_signup(
            org_name="Initech",
            username="ACME-Admin",
            email="x@example.com",
            password=NEW_PASSWORD,
        )
    assert messages(exc_info, "username") == [USERNAME_TAKEN]
    assert not Organization.objects.filter(name="Initech").exists()
    assert User.objects.count() == 1


def test_organization_signup_is_all_or_nothing_when_the_org_name_is_taken(org):
    with pytest.raises(ValidationError) as exc_info:
        services.organization_signup(
            org_name="acme", username="newcomer", email="n@example.com", password=NEW_PASSWORD
        )
    assert messages(exc_info, "name") == [ORGANIZATION_NAME_TAKEN]
    assert not User.objects.filter(username="newcomer").exists()
    assert Organization.objects.count() == 1
    assert not AuditEvent.objects.exists()


def test_organization_signup_is_all_or_nothing_when_the_user_insert_fails(db, monkeypatch):
    """A username taken between validation and insert (a race) leaves no org behind."""
    UserFactory(username="racer")
    monkeypatch.setattr(
        services.users,
        "_validate_new_user",
        lambda **fields: {k: v for k, v in fields.items() if k != "password"},
    )
    with pytest.raises(ValidationError) as exc_info:
        services.organization_signup(
            org_name="Initech", username="racer", email="r@example.com", password=NEW_PASSWORD
        )
    assert messages(exc_info, "username") == [USERNAME_TAKEN]
    assert not Organization.objects.filter(name="Initech").exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"username": ""}, "username", USERNAME_INVALID),
        ({"username": "has space"}, "username", USERNAME_INVALID),
        ({"username": "x" * 151}, "username", USERNAME_INVALID),
        ({"email": "not-an-email"}, "email", EMAIL_INVALID),
        ({"email": ""}, "email", EMAIL_INVALID),
        ({"password": ""}, "password", PASSWORD_REQUIRED),
        ({"password": None}, "password", PASSWORD_REQUIRED),
    ],
)
def test_organization_signup_reports_bad_input(db, kwargs, field, message):
    data = {
        "org_name": "Initech",
        "username": "peter",
        "email": "peter@example.com",
        "password": NEW_PASSWORD,
    } | kwargs
    with pytest.raises(ValidationError) as exc_info:
        services.organization_signup(**data)
    assert messages(exc_info, field) == [message]
    assert not Organization.objects.exists()
    assert not User.objects.exists()


def test_organization_signup_applies_the_password_validators(db):
    with pytest.raises(ValidationError) as exc_info:
        services.organization_signup(
            org_name="Initech", username="peter", email="p@example.com", password="123"
        )
    assert "password" in exc_info.value.message_dict
    assert not Organization.objects.exists()


# -- business groups ---------------------------------------------------------------------------
def test_business_group_create_writes_the_group_and_one_event(admin, org):
    group = services.business_group_create(access=access_of(admin), parent=org, name="Sales")
    assert group.parent == org
    assert group.root == org
    assert group.path == f"{org.path}{group.id}/"
    event = only_event(AuditAction.BUSINESS_GROUP_CREATED)
    assert event.actor_user == admin
    assert event.target_id == str(group.id)
    assert event.details["parent_id"] == str(org.id)


def test_business_group_below_a_business_group_keeps_the_root(admin, org, bg):
    group = services.business_group_create(access=access_of(admin), parent=bg, name="Platform")
    assert group.root == org
    assert group.ancestor_ids == [org.id, bg.id, group.id]


def test_business_group_create_needs_manage_business_groups(member, org):
    with pytest.raises(PermissionDenied):
        services.business_group_create(access=access_of(member), parent=org, name="Sales")
    grant(member, Permission.READ_ORGANIZATION, org)
    with pytest.raises(PermissionDenied):
        services.business_group_create(access=access_of(member), parent=org, name="Sales")
    assert not Organization.objects.filter(name="Sales").exists()
    assert not AuditEvent.objects.exists()
    grant(member, Permission.MANAGE_BUSINESS_GROUPS, org)
    services.business_group_create(access=access_of(member), parent=org, name="Sales")


def test_business_group_create_refuses_other_tenants(other_admin, org):
    with pytest.raises(PermissionDenied):
        services.business_group_create(access=access_of(other_admin), parent=org, name="Sales")
    assert Organization.objects.filter(parent=org).count() == 0


def test_business_group_names_are_unique_among_siblings(admin, org, bg):
    with pytest.raises(ValidationError) as exc_info:
        services.business_group_create(access=access_of(admin), parent=org, name="engineering")
    assert messages(exc_info, "name") == [BUSINESS_GROUP_NAME_TAKEN]
    # the same name is fine elsewhere in the tree
    services.business_group_create(access=access_of(admin), parent=bg, name="Engineering")


def test_business_group_tree_depth_is_bounded(admin, org):
    access = access_of(admin)
    parent = org
    with pytest.raises(ValidationError) as exc_info:
        for depth in range(100):
            parent = services.business_group_create(
                access=access, parent=parent, name=f"Level {depth}"
            )
    assert messages(exc_info, "name") == [
        BUSINESS_GROUP_TOO_DEEP.format(depth=services.MAX_TREE_DEPTH)
    ]
    assert len(parent.path) <= Organization._meta.get_field("path").max_length


# -- organization_rename -----------------------------------------------------------------------
def test_organization_rename_writes_and_records_old_and_new_name(admin, org):
    services.organization_rename(access=access_of(admin), org=org, name="Acme Corp")
    org.refresh_from_db()
    assert org.name == "Acme Corp"
    event = only_event(AuditAction.ORGANIZATION_UPDATED)
    assert event.details == {"name": {"from": "Acme", "to": "Acme Corp"}}
    assert event.actor_user == admin


def test_organization_rename_needs_edit_organization(member, org):
    grant(member, Permission.READ_ORGANIZATION, org)
    with pytest.raises(PermissionDenied):
        services.organization_rename(access=access_of(member), org=org, name="Mine now")
    org.refresh_from_db()
    assert org.name == "Acme"


def test_organization_rename_refuses_a_taken_name(admin, org, other_org, bg):
    sibling = OrganizationFactory(parent=org, name="Sales")
    with pytest.raises(ValidationError) as exc_info:
        services.organization_rename(access=access_of(admin), org=org, name="GLOBEX")
    assert messages(exc_info, "name") == [ORGANIZATION_NAME_TAKEN]
    with pytest.raises(ValidationError) as exc_info:
        services.organization_rename(access=access_of(admin), org=bg, name="sales")
    assert messages(exc_info, "name") == [BUSINESS_GROUP_NAME_TAKEN]
    # renaming to its own name in another case is fine
    services.organization_rename(access=access_of(admin), org=sibling, name="SALES")


# -- environments ------------------------------------------------------------------------------
def test_environment_create_writes_and_audits(admin, org):
    environment = services.environment_create(
        access=access_of(admin), org=org, name="Production", type="production"
    )
    assert environment.organization == org
    event = only_event(AuditAction.ENVIRONMENT_CREATED)
    assert event.target_id == str(environment.id)
    assert event.details == {"name": "Production", "type": "production"}


def test_environment_create_refuses_bad_input(admin, org):
    access = access_of(admin)
    with pytest.raises(ValidationError) as exc_info:
        services.environment_create(access=access, org=org, name="Prod", type="staging")
    assert messages(exc_info, "type") == [ENVIRONMENT_TYPE_INVALID]
    services.environment_create(access=access, org=org, name="Prod", type="production")
    with pytest.raises(ValidationError) as exc_info:
        services.environment_create(access=access, org=org, name="PROD", type="sandbox")
    assert messages(exc_info, "name") == [ENVIRONMENT_NAME_TAKEN]
    assert Environment.objects.count() == 1


def test_environment_create_needs_org_wide_edit_environment(member, org):
    sandbox = EnvironmentFactory(organization=org)
    grant(member, Permission.EDIT_ENVIRONMENT, org, environment=sandbox)
    with pytest.raises(PermissionDenied):
        services.environment_create(access=access_of(member), org=org, name="New", type="sandbox")
    assert Environment.objects.count() == 1


# -- users -------------------------------------------------------------------------------------
def test_user_create_adds_a_member_of_the_root_org_with_one_event(admin, org, bg):
    user = services.user_create(
        access=access_of(admin),
        org=bg,
        username="newbie",
        email="newbie@example.com",
        password=NEW_PASSWORD,
        first_name="New",
        last_name="Bie",
    )
    assert user.organization == org
    assert user.check_password(NEW_PASSWORD)
    assert (user.first_name, user.last_name) == ("New", "Bie")
    event = only_event(AuditAction.USER_CREATED)
    assert event.actor_user == admin
    assert event.target_id == str(user.id)
    assert NEW_PASSWORD not in json.dumps(event.details)
    assert NEW_PASSWORD not in str(event.__dict__)


def test_user_create_needs_manage_users(member, org):
    grant(member, Permission.READ_USERS, org)
    with pytest.raises(PermissionDenied):
        services.user_create(
            access=access_of(member),
            org=org,
            username="sneaky",
            email="s@example.com",
            password=NEW_PASSWORD,
        )
    assert not User.objects.filter(username="sneaky").exists()


def test_user_create_refuses_other_tenants(other_admin, org):
    with pytest.raises(PermissionDenied):
        services.user_create(
            access=access_of(other_admin),
            org=org,
            username="sneaky",
            email="s@example.com",
            password=NEW_PASSWORD,
        )
    assert not User.objects.filter(username="sneaky").exists()


@pytest.mark.parametrize("username", ["acme-admin", "ACME-ADMIN", "  Acme-Admin  ", "globex-admin"])
def test_user_create_refuses_duplicate_usernames_case_insensitively(
    admin, other_admin, org, username
):
    with pytest.raises(ValidationError) as exc_info:
        services.user_create(
            access=access_of(admin),
            org=org,
            username=username,
            email="dup@example.com",
            password=NEW_PASSWORD,
        )
    assert messages(exc_info, "username") == [USERNAME_TAKEN]
    assert User.objects.filter(username__iexact=username.strip()).count() == 1
    assert not AuditEvent.objects.exists()


def full_width(text: str) -> str:
    """Full-width look-alikes of ASCII letters (U+FF41 for "a", …)."""
    return "".join(chr(ord(c) - ord("a") + 0xFF41) if c.isalpha() else c for c in text)


def test_usernames_are_normalised_before_the_duplicate_check(admin, org):
    """Full-width letters are the same username (NFKC), as Django's own forms have it."""
    with pytest.raises(ValidationError) as exc_info:
        services.user_create(
            access=access_of(admin),
            org=org,
            username=full_width("acme-admin"),
            email="dup@example.com",
            password=NEW_PASSWORD,
        )
    assert messages(exc_info, "username") == [USERNAME_TAKEN]
    user = services.user_create(
        access=access_of(admin),
        org=org,
        username=full_width("newbie"),
        email="newbie@example.com",
        password=NEW_PASSWORD,
    )
    assert user.username == "newbie"


def test_user_create_reports_every_bad_field_at_once(admin, org):
    with pytest.raises(ValidationError) as exc_info:
        services.user_create(
            access=access_of(admin), org=org, username="bad name", email="nope", password=""
        )
    errors = exc_info.value.message_dict
    assert errors["username"] == [USERNAME_INVALID]
    assert errors["email"] == [EMAIL_INVALID]
    assert errors["password"] == [PASSWORD_REQUIRED]


def test_user_create_refuses_names_with_nul_characters(admin, org):
    with pytest.raises(ValidationError) as exc_info:
        services.user_create(
            access=access_of(admin),
            org=org,
            username="clean",
            email="clean@example.com",
            password=NEW_PASSWORD,
            first_name="Bad\x00",
        )
    assert "first_name" in exc_info.value.message_dict
    assert not User.objects.filter(username="clean").exists()


# -- user_profile_update ------------------------------------------------------------------------
def test_user_profile_update_writes_the_trimmed_names_and_records_them(member, admin):
    meta = RequestMeta(client_ip="203.0.113.9", user_agent="Browser/1.0")
    user = services.user_profile_update(
        user=member, first_name="  Augusta ", last_name="King", meta=meta
    )
    assert (user.first_name, user.last_name) == ("Augusta", "King")
    assert (member.first_name, member.last_name) == ("Augusta", "King")  # the caller's copy
    member.refresh_from_db()
    assert (member.first_name, member.last_name) == ("Augusta", "King")
    admin.refresh_from_db()
    assert (admin.first_name, admin.last_name) == ("Ada", "Lovelace")
    event = only_event(AuditAction.USER_PROFILE_CHANGED)
    assert event.actor_user_id == member.pk
    assert (event.target_type, event.target_id) == ("user", str(member.pk))
    assert event.organization_id == member.organization_id
    assert event.client_ip == "203.0.113.9"
    assert event.details == {
        "before": {"first_name": "Ada", "last_name": "Lovelace"},
        "after": {"first_name": "Augusta", "last_name": "King"},
    }


def test_user_profile_update_reports_both_bad_names_and_writes_nothing(member):
    with pytest.raises(ValidationError) as exc_info:
        services.user_profile_update(user=member, first_name="A" * 151, last_name="Bad\x07")
    assert messages(exc_info, "first_name") == [PERSON_NAME_TOO_LONG]
    assert messages(exc_info, "last_name") == [NAME_INVALID]
    member.refresh_from_db()
    assert (member.first_name, member.last_name) == ("Ada", "Lovelace")
    assert not AuditEvent.objects.filter(action=AuditAction.USER_PROFILE_CHANGED).exists()


def test_user_profile_update_records_nothing_when_nothing_changed(member):
    services.user_profile_update(user=member, first_name=" Ada", last_name="Lovelace ")
    assert not AuditEvent.objects.filter(action=AuditAction.USER_PROFILE_CHANGED).exists()
    services.user_profile_update(user=member, first_name="", last_name="")  # names are optional
    assert only_event(AuditAction.USER_PROFILE_CHANGED).details["after"] == {
        "first_name": "",
        "last_name": "",
    }


# -- permissions -------------------------------------------------------------------------------
def test_user_permissions_set_replaces_the_grants_and_audits_before_and_after(admin, member, org):
    grant(member, Permission.READ_AUDIT_LOGS, org)
    services.user_permissions_set(
        access=access_of(admin),
        org=org,
        user=member,
        permissions=["read:users", "view:environment", "read:users"],
    )
    assert grants_of(member, org) == {("read:users", None), ("view:environment", None)}
    event = only_event(AuditAction.USER_PERMISSIONS_CHANGED)
    assert event.actor_user == admin
    assert event.target_id == str(member.id)
    assert event.details["before"]["permissions"] == ["read:audit_logs"]
    assert event.details["after"]["permissions"] == ["read:users", "view:environment"]


def test_user_permissions_set_per_environment(admin, member, org):
    production = EnvironmentFactory(organization=org, name="Production")
    sandbox = EnvironmentFactory(organization=org, name="Sandbox")
    services.user_permissions_set(
        access=access_of(admin),
        org=org,
        user=member,
        permissions=["view:environment", "read:users"],
        environments=[str(sandbox.id)],
    )
    assert grants_of(member, org) == {("view:environment", sandbox.id), ("read:users", None)}
    access = access_of(member)
    assert access.can(Permission.VIEW_ENVIRONMENT, org, sandbox)
    assert not access.can(Permission.VIEW_ENVIRONMENT, org, production)


def test_user_permissions_set_refuses_unknown_permissions_and_environments(
    admin, member, org, other_org, bg
):
    access = access_of(admin)
    with pytest.raises(ValidationError) as exc_info:
        services.user_permissions_set(
            access=access, org=org, user=member, permissions=["read:everything"]
        )
    assert messages(exc_info, "permissions") == [
        PERMISSION_UNKNOWN.format(permission="read:everything")
    ]
    with pytest.raises(ValidationError) as exc_info:
        services.user_permissions_set(access=access, org=org, user=member, permissions="read:users")
    assert messages(exc_info, "permissions") == [PERMISSIONS_NOT_A_LIST]
    for environment in (
        EnvironmentFactory(organization=other_org),
        EnvironmentFactory(organization=bg),
    ):
        with pytest.raises(ValidationError) as exc_info:
            services.user_permissions_set(
                access=access,
                org=org,
                user=member,
                permissions=["view:environment"],
                environments=[str(environment.id)],
            )
        assert messages(exc_info, "environments") == [
            ENVIRONMENT_NOT_IN_ORGANIZATION.format(environment=environment.id)
        ]
    with pytest.raises(ValidationError) as exc_info:
        services.user_permissions_set(
            access=access, org=org, user=member, permissions=[], environments=["nope"]
        )
    assert messages(exc_info, "environments") == [
        ENVIRONMENT_NOT_IN_ORGANIZATION.format(environment="nope")
    ]
    with pytest.raises(ValidationError) as exc_info:
        services.user_permissions_set(
            access=access, org=org, user=member, role="Owner", set_role=True
        )
    assert messages(exc_info, "role") == [ROLE_UNKNOWN.format(role="Owner")]
    assert not PermissionGrant.objects.exists()
    assert not AuditEvent.objects.exists()


def test_user_permissions_set_refuses_a_user_of_another_org(admin, org, other_admin):
    with pytest.raises(ValidationError) as exc_info:
        services.user_permissions_set(
            access=access_of(admin), org=org, user=other_admin, permissions=["read:users"]
        )
    assert messages(exc_info, "user") == [NOT_A_MEMBER]
    assert not PermissionGrant.objects.exists()


def test_user_permissions_set_needs_manage_users(member, org):
    grant(member, Permission.READ_USERS, org)
    victim = UserFactory(organization=org)
    with pytest.raises(PermissionDenied):
        services.user_permissions_set(
            access=access_of(member), org=org, user=victim, permissions=["read:users"]
        )
    with pytest.raises(PermissionDenied):
        services.user_permissions_set(
            access=access_of(member), org=org, user=member, permissions=["manage:users"]
        )
    assert grants_of(victim, org) == set()
    assert grants_of(member, org) == {("read:users", None)}


def test_cross_tenant_admin_cannot_set_permissions(other_admin, org, member):
    with pytest.raises(PermissionDenied):
        services.user_permissions_set(
            access=access_of(other_admin), org=org, user=member, permissions=["read:users"]
        )
    assert not PermissionGrant.objects.filter(user=member).exists()


# -- anti-escalation ---------------------------------------------------------------------------
@pytest.fixture
def user_manager(org):
    """A member holding manage:users (and view:environment on one environment) only."""
    manager = UserFactory(organization=org, username="manager")
    grant(manager, Permission.MANAGE_USERS, org)
    return manager


def test_manager_can_grant_what_they_hold(user_manager, member, org):
    services.user_permissions_set(
        access=access_of(user_manager), org=org, user=member, permissions=["read:users"]
    )
    services.user_permissions_set(
        access=access_of(user_manager), org=org, user=member, permissions=["manage:users"]
    )
    assert grants_of(member, org) == {("manage:users", None)}


@pytest.mark.parametrize(
    "permission",
    ["manage:connected_apps", "edit:organization", "view:environment", "read:audit_logs"],
)
def test_manager_cannot_grant_a_permission_they_lack(user_manager, member, org, permission):
    with pytest.raises(PermissionDenied) as exc_info:
        services.user_permissions_set(
            access=access_of(user_manager),
            org=org,
            user=member,
            permissions=["read:users", permission],
        )
    assert str(exc_info.value) == CANNOT_GRANT_UNHELD_PERMISSION.format(permission=permission)
    assert grants_of(member, org) == set()
    assert not AuditEvent.objects.exists()


def test_manager_cannot_grant_themselves_more(user_manager, org):
    with pytest.raises(PermissionDenied):
        services.user_permissions_set(
            access=access_of(user_manager),
            org=org,
            user=user_manager,
            permissions=["manage:users", "manage:connected_apps"],
        )
    assert grants_of(user_manager, org) == {("manage:users", None)}


def test_per_environment_holder_can_grant_that_environment_only(user_manager, member, org):
    production = EnvironmentFactory(organization=org, name="Production")
    sandbox = EnvironmentFactory(organization=org, name="Sandbox")
    grant(user_manager, Permission.VIEW_ENVIRONMENT, org, environment=sandbox)
    access = access_of(user_manager)
    with pytest.raises(PermissionDenied):
        services.user_permissions_set(
            access=access, org=org, user=member, permissions=["view:environment"]
        )
    with pytest.raises(PermissionDenied):
        services.user_permissions_set(
            access=access,
            org=org,
            user=member,
            permissions=["view:environment"],
            environments=[str(production.id)],
        )
    services.user_permissions_set(
        access=access,
        org=org,
        user=member,
        permissions=["view:environment"],
        environments=[str(sandbox.id)],
    )
    assert grants_of(member, org) == {("view:environment", sandbox.id)}


def test_manager_cannot_take_away_a_permission_they_lack(user_manager, member, org):
    """Changing a grant either way needs the permission; grants left as they are do not."""
    grant(member, Permission.MANAGE_CONNECTED_APPS, org)
    access = access_of(user_manager)
    with pytest.raises(PermissionDenied):
        services.user_permissions_set(
            access=access, org=org, user=member, permissions=["read:users"]
        )
    assert grants_of(member, org) == {("manage:connected_apps", None)}
    # keeping the grant they lack while adding one they hold is fine
    services.user_permissions_set(
        access=access,
        org=org,
        user=member,
        permissions=["manage:connected_apps", "read:users"],
    )
    assert grants_of(member, org) == {("manage:connected_apps", None), ("read:users", None)}


@pytest.mark.parametrize("role", [ADMIN_ROLE, None])
def test_manager_cannot_grant_or_remove_the_admin_role(user_manager, member, admin, org, role):
    target = member if role else admin
    with pytest.raises(PermissionDenied) as exc_info:
        services.user_permissions_set(
            access=access_of(user_manager), org=org, user=target, role=role, set_role=True
        )
    assert str(exc_info.value) == CANNOT_CHANGE_ROLE
    assert not RoleGrant.objects.filter(user=member).exists()
    assert RoleGrant.objects.filter(user=admin, organization=org).exists()


def test_bg_admin_cannot_change_roles_in_the_parent(org, bg, member):
    bg_admin = UserFactory(organization=org)
    AdminRoleFactory(user=bg_admin, organization=bg)
    with pytest.raises(PermissionDenied):
        services.user_permissions_set(
            access=access_of(bg_admin), org=org, user=member, role=ADMIN_ROLE, set_role=True
        )
    services.user_permissions_set(
        access=access_of(bg_admin), org=bg, user=member, role=ADMIN_ROLE, set_role=True
    )
    assert access_of(member).is_admin_of(bg)
    assert not access_of(member).is_admin_of(org)


def test_a_narrowly_scoped_token_of_an_admin_cannot_change_roles(admin, member, org):
    access = access_of(admin, scopes=frozenset({"manage:users"}))
    with pytest.raises(PermissionDenied):
        services.user_permissions_set(
            access=access, org=org, user=member, role=ADMIN_ROLE, set_role=True
        )
    assert not RoleGrant.objects.filter(user=member).exists()
    services.user_permissions_set(
        access=access_of(admin, scopes=frozenset({"full"})),
        org=org,
        user=member,
        role=ADMIN_ROLE,
        set_role=True,
    )
    assert RoleGrant.objects.filter(user=member, organization=org).exists()


def test_admin_grants_and_removes_the_role(admin, member, org):
    services.user_permissions_set(
        access=access_of(admin), org=org, user=member, role=ADMIN_ROLE, set_role=True
    )
    assert access_of(member).is_admin_of(org)
    event = only_event(AuditAction.USER_PERMISSIONS_CHANGED)
    assert event.details["before"]["role"] is None
    assert event.details["after"]["role"] == ADMIN_ROLE
    services.user_permissions_set(
        access=access_of(admin), org=org, user=member, role=None, set_role=True
    )
    assert not access_of(member).is_admin_of(org)


def test_setting_the_role_twice_is_harmless(admin, member, org):
    for _ in range(2):
        services.user_permissions_set(
            access=access_of(admin), org=org, user=member, role=ADMIN_ROLE, set_role=True
        )
    assert RoleGrant.objects.filter(user=member, organization=org).count() == 1


def test_the_last_admin_of_a_root_org_cannot_be_removed(admin, org):
    grant(admin, Permission.READ_USERS, org)
    with pytest.raises(ValidationError) as exc_info:
        services.user_permissions_set(
            access=access_of(admin),
            org=org,
            user=admin,
            permissions=["manage:users"],
            role=None,
            set_role=True,
        )
    assert messages(exc_info, "role") == [LAST_ADMINISTRATOR]
    # nothing changed: neither the role nor the grants
    assert RoleGrant.objects.filter(user=admin, organization=org).exists()
    assert grants_of(admin, org) == {("read:users", None)}
    assert not AuditEvent.objects.exists()


def test_an_admin_can_step_down_when_another_remains(admin, member, org):
    AdminRoleFactory(user=member, organization=org)
    services.user_permissions_set(
        access=access_of(admin), org=org, user=admin, role=None, set_role=True
    )
    assert not RoleGrant.objects.filter(user=admin).exists()


def test_the_last_admin_of_a_bg_can_be_removed(admin, member, org, bg):
    AdminRoleFactory(user=member, organization=bg)
    services.user_permissions_set(
        access=access_of(admin), org=bg, user=member, role=None, set_role=True
    )
    assert not RoleGrant.objects.filter(user=member).exists()


# -- identity providers ------------------------------------------------------------------------
def test_identity_provider_create_writes_and_audits(admin, org):
    provider = services.identity_provider_create(access=access_of(admin), org=org, name="Okta")
    assert provider.organization == org
    event = only_event(AuditAction.IDENTITY_PROVIDER_CREATED)
    assert event.target_id == str(provider.id)
    assert event.actor_user == admin


def test_identity_provider_create_refuses_duplicates_and_needs_edit_organization(
    admin, member, org
):
    IdentityProviderFactory(organization=org, name="Okta")
    with pytest.raises(ValidationError) as exc_info:
        services.identity_provider_create(access=access_of(admin), org=org, name="OKTA")
    assert messages(exc_info, "name") == [IDENTITY_PROVIDER_NAME_TAKEN]
    grant(member, Permission.READ_ORGANIZATION, org)
    with pytest.raises(PermissionDenied):
        services.identity_provider_create(access=access_of(member), org=org, name="Auth0")
    assert IdentityProvider.objects.count() == 1


# -- bootstrap ---------------------------------------------------------------------------------
def test_organization_bootstrap_creates_then_updates(db):
    first = services.organization_bootstrap(
        org_name="Initech", username="root", password=NEW_PASSWORD, email="root@example.com"
    )
    second = services.organization_bootstrap(
        org_name="initech", username="ROOT", password=DEFAULT_PASSWORD, email="new@example.com"
    )
    assert (first.organization.id, first.admin.id) == (second.organization.id, second.admin.id)
    admin = User.objects.get()
    assert admin.check_password(DEFAULT_PASSWORD)
    assert admin.email == "new@example.com"
    assert RoleGrant.objects.filter(user=admin, role=ADMIN_ROLE).count() == 1


def test_organization_bootstrap_validates_the_new_password_and_email(db):
    services.organization_bootstrap(
        org_name="Initech", username="root", password=NEW_PASSWORD, email="root@example.com"
    )
    with pytest.raises(ValidationError) as exc_info:
        services.organization_bootstrap(
            org_name="Initech", username="root", password="123", email="nope"
        )
    assert "password" in exc_info.value.message_dict
    assert exc_info.value.message_dict["email"] == [EMAIL_INVALID]
    assert User.objects.get().check_password(NEW_PASSWORD)


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite serialises writers; the race needs rows"
)
@pytest.mark.django_db(transaction=True)
def test_two_admins_removing_each_other_at_once_leave_one(monkeypatch):
    """A removes B while B removes A: without row locks both would see the other remain."""
    org = OrganizationFactory(name="Race")
    a, b = UserFactory(organization=org), UserFactory(organization=org)
    AdminRoleFactory(user=a, organization=org)
    AdminRoleFactory(user=b, organization=org)
    original = services.permissions._ensure_an_administrator_remains

    def slow_ensure(org):
        if threading.current_thread().name == "first":
            time.sleep(0.5)  # hold the locks while the second request starts
        original(org)

    monkeypatch.setattr(services.permissions, "_ensure_an_administrator_remains", slow_ensure)
    outcomes: dict[str, str] = {}

    def remove(actor, target, name):
        try:
            services.user_permissions_set(
                access=Access(user=actor), org=org, user=target, role=None, set_role=True
            )
            outcomes[name] = "removed"
        except ValidationError as exc:
            outcomes[name] = exc.message_dict["role"][0]
        finally:
            connections.close_all()

    first = threading.Thread(target=remove, args=(a, b, "first"), name="first")
    second = threading.Thread(target=remove, args=(b, a, "second"), name="second")
    first.start()
    time.sleep(0.1)
    second.start()
    first.join(10)
    second.join(10)
    assert outcomes == {"first": "removed", "second": LAST_ADMINISTRATOR}
    assert list(RoleGrant.objects.values_list("user_id", flat=True)) == [a.id]
