"""factory_boy factories for the accounts models."""

from __future__ import annotations

import uuid

import factory

from accounts.catalog import Role
from accounts.models import (
    Environment,
    EnvironmentType,
    IdentityProvider,
    Organization,
    PermissionGrant,
    RoleGrant,
    User,
)

DEFAULT_PASSWORD = "correct-horse-battery-staple"


class OrganizationFactory(factory.django.DjangoModelFactory):
    """A root organization; pass `parent=` for a business group."""

    class Meta:
        model = Organization

    id = factory.LazyFunction(uuid.uuid4)
    name = factory.Sequence(lambda n: f"Org {n}")
    parent = None
    root = factory.LazyAttribute(
        lambda o: (o.parent.root or o.parent) if o.parent is not None else None
    )
    path = factory.LazyAttribute(
        lambda o: f"{o.parent.path}{o.id}/" if o.parent is not None else f"/{o.id}/"
    )


class EnvironmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Environment

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Environment {n}")
    type = EnvironmentType.SANDBOX


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    organization = factory.SubFactory(OrganizationFactory)
    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    first_name = "Ada"
    last_name = "Lovelace"
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save(update_fields=["password"])


class PermissionGrantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PermissionGrant

    user = factory.SubFactory(UserFactory)
    organization = factory.LazyAttribute(lambda g: g.user.organization)
    environment = None


class AdminRoleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RoleGrant

    user = factory.SubFactory(UserFactory)
    organization = factory.LazyAttribute(lambda g: g.user.organization)
    role = Role.ORGANIZATION_ADMINISTRATOR


class IdentityProviderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IdentityProvider

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"IdP {n}")
