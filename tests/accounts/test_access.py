"""The one permission check: roles down the BG tree, grants, implications, scopes, tenancy."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from accounts.access import Access, access_for
from accounts.catalog import PERMISSIONS, Permission, SpecialScope
from tests.factories import (
    AdminRoleFactory,
    EnvironmentFactory,
    OrganizationFactory,
    PermissionGrantFactory,
    UserFactory,
)

READ_ONLY = [p for p in Permission if PERMISSIONS[p].read_only]
WRITE = [p for p in Permission if not PERMISSIONS[p].read_only]


@pytest.fixture
def bg(org):
    return OrganizationFactory(name="Engineering", parent=org)


@pytest.fixture
def sub_bg(bg):
    return OrganizationFactory(name="Platform", parent=bg)


@pytest.fixture
def sibling_bg(org):
    return OrganizationFactory(name="Sales", parent=org)


def grant(user, permission, org=None, environment=None):
    return PermissionGrantFactory(
        user=user,
        permission=permission,
        organization=org or user.organization,
        environment=environment,
    )


# -- Organization Administrator -------------------------------------------------------------------
def test_root_admin_holds_every_permission_in_the_whole_tree(admin, org, bg, sub_bg):
    access = Access(user=admin)
    for target in (org, bg, sub_bg):
        assert access.is_admin_of(target)
        for permission in Permission:
            assert access.can(permission, target), (permission, target)
        assert access.held_permissions(target) == set(Permission)


def test_bg_admin_holds_the_bg_and_below_but_not_the_parent_or_siblings(
    org, bg, sub_bg, sibling_bg
):
    user = UserFactory(organization=org)
    AdminRoleFactory(user=user, organization=bg)
    access = Access(user=user)

    assert access.is_admin_of(bg)
    assert access.is_admin_of(sub_bg)
    assert not access.is_admin_of(org)
    assert not access.is_admin_of(sibling_bg)
    for permission in Permission:
        assert access.can(permission, bg)
        assert access.can(permission, sub_bg)
        assert not access.can(permission, org)
        assert not access.can(permission, sibling_bg)


def test_admin_of_a_deep_bg_does_not_hold_its_ancestors(org, bg, sub_bg):
    user = UserFactory(organization=org)
    AdminRoleFactory(user=user, organization=sub_bg)
    access = Access(user=user)
    assert access.can(Permission.MANAGE_USERS, sub_bg)
    assert not access.can(Permission.READ_ORGANIZATION, bg)
    assert not access.can(Permission.READ_ORGANIZATION, org)


def test_admin_prefix_does_not_match_a_different_org_with_a_similar_path(org, bg):
    """The materialized path ends with a slash, so one id is never a prefix of another."""
    user = UserFactory(organization=org)
    AdminRoleFactory(user=user, organization=bg)
    lookalike = OrganizationFactory(parent=org, name="Lookalike")
    assert not Access(user=user).can(Permission.READ_ORGANIZATION, lookalike)


# -- plain grants ----------------------------------------------------------------------------------
def test_plain_grant_applies_to_its_own_org_only(member, org, bg):
    grant(member, Permission.READ_USERS, org)
    access = Access(user=member)
    assert access.can(Permission.READ_USERS, org)
    assert not access.can(Permission.READ_USERS, bg)
    assert not access.is_admin_of(org)


def test_plain_grant_in_a_bg_does_not_reach_the_parent(member, org, bg, sub_bg):
    grant(member, Permission.MANAGE_USERS, bg)
    access = Access(user=member)
    assert access.can(Permission.MANAGE_USERS, bg)
    assert not access.can(Permission.MANAGE_USERS, org)
    assert not access.can(Permission.MANAGE_USERS, sub_bg)


def test_member_without_grants_can_do_nothing(member, org):
    access = Access(user=member)
    assert access.held_permissions(org) == set()
    for permission in Permission:
        assert not access.can(permission, org)


@pytest.mark.parametrize(
    ("held", "implied"),
    [
        (Permission.EDIT_ENVIRONMENT, Permission.VIEW_ENVIRONMENT),
        (Permission.MANAGE_USERS, Permission.READ_USERS),
        (Permission.EDIT_ORGANIZATION, Permission.READ_ORGANIZATION),
        (Permission.MANAGE_BUSINESS_GROUPS, Permission.READ_ORGANIZATION),
    ],
)
def test_a_permission_implies_its_read_counterpart(member, org, held, implied):
    grant(member, held, org)
    access = Access(user=member)
    assert access.can(held, org)
    assert access.can(implied, org)


@pytest.mark.parametrize(
    ("held", "not_implied"),
    [
        (Permission.VIEW_ENVIRONMENT, Permission.EDIT_ENVIRONMENT),
        (Permission.READ_USERS, Permission.MANAGE_USERS),
        (Permission.READ_ORGANIZATION, Permission.EDIT_ORGANIZATION),
        (Permission.MANAGE_USERS, Permission.MANAGE_CONNECTED_APPS),
    ],
)
def test_implication_only_goes_one_way(member, org, held, not_implied):
    grant(member, held, org)
    assert not Access(user=member).can(not_implied, org)


def test_require_raises_permission_denied(member, org):
    access = Access(user=member)
    with pytest.raises(PermissionDenied):
        access.require(Permission.READ_USERS, org)
    grant(member, Permission.READ_USERS, org)
    Access(user=member).require(Permission.READ_USERS, org)


# -- environments ----------------------------------------------------------------------------------
def test_org_wide_environment_grant_covers_every_environment(member, org):
    production = EnvironmentFactory(organization=org, name="Production")
    sandbox = EnvironmentFactory(organization=org, name="Sandbox")
    grant(member, Permission.VIEW_ENVIRONMENT, org)
    access = Access(user=member)
    assert access.can(Permission.VIEW_ENVIRONMENT, org)
    assert access.can(Permission.VIEW_ENVIRONMENT, org, production)
    assert access.can(Permission.VIEW_ENVIRONMENT, org, sandbox)
    assert access.environment_ids(Permission.VIEW_ENVIRONMENT, org) is None


def test_per_environment_grant_covers_that_environment_only(member, org):
    production = EnvironmentFactory(organization=org, name="Production")
    sandbox = EnvironmentFactory(organization=org, name="Sandbox")
    grant(member, Permission.VIEW_ENVIRONMENT, org, environment=sandbox)
    access = Access(user=member)
    assert access.can(Permission.VIEW_ENVIRONMENT, org, sandbox)
    assert not access.can(Permission.VIEW_ENVIRONMENT, org, production)
    assert not access.can(Permission.VIEW_ENVIRONMENT, org)  # not org-wide
    assert access.can_somewhere_in(Permission.VIEW_ENVIRONMENT, org)
    assert not access.can_somewhere_in(Permission.EDIT_ENVIRONMENT, org)
    assert access.environment_ids(Permission.VIEW_ENVIRONMENT, org) == {sandbox.id}


def test_per_environment_edit_implies_view_of_that_environment(member, org):
    production = EnvironmentFactory(organization=org, name="Production")
    sandbox = EnvironmentFactory(organization=org, name="Sandbox")
    grant(member, Permission.EDIT_ENVIRONMENT, org, environment=sandbox)
    access = Access(user=member)
    assert access.can(Permission.VIEW_ENVIRONMENT, org, sandbox)
    assert access.can(Permission.EDIT_ENVIRONMENT, org, sandbox)
    assert not access.can(Permission.VIEW_ENVIRONMENT, org, production)


def test_environment_of_another_org_is_never_allowed(admin, org, bg, other_org):
    """An environment passed with the wrong org is a malformed question: the answer is no."""
    bg_environment = EnvironmentFactory(organization=bg)
    foreign_environment = EnvironmentFactory(organization=other_org)
    access = Access(user=admin)
    assert access.can(Permission.VIEW_ENVIRONMENT, bg, bg_environment)
    assert not access.can(Permission.VIEW_ENVIRONMENT, org, bg_environment)
    assert not access.can(Permission.VIEW_ENVIRONMENT, org, foreign_environment)


def test_environment_grant_in_one_org_does_not_cover_a_bg(member, org, bg):
    grant(member, Permission.VIEW_ENVIRONMENT, org)
    bg_environment = EnvironmentFactory(organization=bg)
    access = Access(user=member)
    assert not access.can(Permission.VIEW_ENVIRONMENT, bg, bg_environment)
    assert access.environment_ids(Permission.VIEW_ENVIRONMENT, bg) == set()


# -- tenancy ---------------------------------------------------------------------------------------
def test_cross_tenant_is_always_false(other_admin, org, bg):
    access = Access(user=other_admin)
    environment = EnvironmentFactory(organization=org)
    for target in (org, bg):
        assert not access.in_tenant(target)
        assert not access.is_admin_of(target)
        assert access.held_permissions(target) == set()
        for permission in Permission:
            assert not access.can(permission, target)
            assert not access.can(permission, target, environment)
            assert not access.can_somewhere_in(permission, target)
            assert access.environment_ids(permission, target) == set()


def test_stray_rows_in_another_tenant_grant_nothing(member, other_org):
    """Even a role or grant row pointing at another tenant (never written by the services)
    does not open it: the tenant check comes first."""
    AdminRoleFactory(user=member, organization=other_org)
    grant(member, Permission.READ_USERS, other_org)
    access = Access(user=member)
    assert not access.is_admin_of(other_org)
    assert not access.can(Permission.READ_USERS, other_org)


# -- scopes ----------------------------------------------------------------------------------------
def test_no_scopes_means_a_session_with_the_users_full_power(admin, org):
    assert Access(user=admin).scope_allows(Permission.MANAGE_USERS)


def test_full_scope_allows_everything_the_user_can(admin, member, org):
    assert all(
        Access(user=admin, scopes=frozenset({SpecialScope.FULL.value})).can(p, org)
        for p in Permission
    )
    # …but never more than the user can.
    assert not Access(user=member, scopes=frozenset({"full"})).can(Permission.READ_USERS, org)


def test_read_full_allows_read_only_permissions_only(admin, org):
    access = Access(user=admin, scopes=frozenset({SpecialScope.READ_FULL.value}))
    for permission in READ_ONLY:
        assert access.can(permission, org), permission
    for permission in WRITE:
        assert not access.can(permission, org), permission


def test_read_full_covers_reads_implied_by_a_write_grant(member, org):
    grant(member, Permission.MANAGE_USERS, org)
    access = Access(user=member, scopes=frozenset({"read:full"}))
    assert access.can(Permission.READ_USERS, org)
    assert not access.can(Permission.MANAGE_USERS, org)


def test_a_permission_scope_allows_that_permission_only(admin, org):
    access = Access(user=admin, scopes=frozenset({"read:users"}))
    assert access.can(Permission.READ_USERS, org)
    assert not access.can(Permission.MANAGE_USERS, org)
    assert not access.can(Permission.VIEW_ENVIRONMENT, org)
    assert access.held_permissions(org) == {Permission.READ_USERS}


def test_an_implying_scope_allows_the_implied_permission(admin, org):
    access = Access(user=admin, scopes=frozenset({"edit:environment"}))
    assert access.can(Permission.EDIT_ENVIRONMENT, org)
    assert access.can(Permission.VIEW_ENVIRONMENT, org)
    assert not access.can(Permission.READ_USERS, org)


def test_a_scope_never_adds_a_permission_the_user_lacks(member, org):
    grant(member, Permission.READ_USERS, org)
    access = Access(user=member, scopes=frozenset({"manage:users"}))
    assert access.can(Permission.READ_USERS, org)
    assert not access.can(Permission.MANAGE_USERS, org)


def test_identity_scopes_alone_allow_no_permission(admin, org):
    access = Access(user=admin, scopes=frozenset({"openid", "profile", "email"}))
    assert access.held_permissions(org) == set()


def test_empty_scopes_allow_nothing(admin, org):
    assert Access(user=admin, scopes=frozenset()).held_permissions(org) == set()


def test_scopes_narrow_per_environment_grants(member, org):
    sandbox = EnvironmentFactory(organization=org)
    grant(member, Permission.EDIT_ENVIRONMENT, org, environment=sandbox)
    access = Access(user=member, scopes=frozenset({"view:environment"}))
    assert access.can(Permission.VIEW_ENVIRONMENT, org, sandbox)
    assert not access.can(Permission.EDIT_ENVIRONMENT, org, sandbox)
    assert access.environment_ids(Permission.EDIT_ENVIRONMENT, org) == set()


# -- cost ------------------------------------------------------------------------------------------
def test_questions_after_the_first_cost_no_queries(
    django_assert_num_queries, member, org, bg, sub_bg
):
    grant(member, Permission.READ_USERS, org)
    AdminRoleFactory(user=member, organization=sub_bg)
    environments = [EnvironmentFactory(organization=org) for _ in range(3)]
    access = Access(user=member)
    with django_assert_num_queries(2):
        access.can(Permission.READ_USERS, org)
    with django_assert_num_queries(0):
        for _ in range(20):
            for target in (org, bg, sub_bg):
                for permission in Permission:
                    access.can(permission, target)
                    access.can_somewhere_in(permission, target)
                    access.environment_ids(permission, target)
                for environment in environments:
                    access.can(Permission.VIEW_ENVIRONMENT, target, environment)
                access.is_admin_of(target)
                access.held_permissions(target)


def test_an_admin_asking_about_orgs_it_does_not_administer_costs_no_extra_query(
    django_assert_num_queries, org, bg, sibling_bg
):
    user = UserFactory(organization=org)
    AdminRoleFactory(user=user, organization=bg)
    access = Access(user=user)
    access.can(Permission.READ_USERS, bg)
    with django_assert_num_queries(0):
        access.can(Permission.READ_USERS, org)
        access.can(Permission.READ_USERS, sibling_bg)


def test_access_for_memoises_the_session_access_on_the_user(admin):
    assert access_for(admin) is access_for(admin)
    scoped = access_for(admin, frozenset({"read:full"}))
    assert scoped.scopes == frozenset({"read:full"})
    assert access_for(admin).scopes is None
