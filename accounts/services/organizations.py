"""Writes for organizations, business groups and environments."""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.access import Access
from accounts.catalog import Permission
from accounts.models import Environment, EnvironmentType, Organization
from accounts.services.names import _clean_name
from audit.models import AuditAction
from audit.services import RequestMeta, audit_record

ORGANIZATION_NAME_TAKEN = "An organization with this name already exists."
BUSINESS_GROUP_NAME_TAKEN = "This organization already has a business group with this name."
BUSINESS_GROUP_TOO_DEEP = "Business groups can be nested at most {depth} levels deep."
ENVIRONMENT_NAME_TAKEN = "This organization already has an environment with this name."
ENVIRONMENT_TYPE_INVALID = "The environment type must be production or sandbox."


# A BG path is one 37-character segment per level and must fit Organization.path (2000).
MAX_TREE_DEPTH = 50


# ---------------------------------------------------------------------------------------------
# Organizations and business groups
# ---------------------------------------------------------------------------------------------
def organization_create_root(*, name: str, meta: RequestMeta | None = None) -> Organization:
    """Create a root organization (signup, bootstrap). Root names are unique platform-wide."""
    name = _clean_name(name)
    with transaction.atomic():
        if Organization.objects.filter(parent__isnull=True, name__iexact=name).exists():
            raise ValidationError({"name": ORGANIZATION_NAME_TAKEN})
        org_id = uuid.uuid4()
        try:
            with transaction.atomic():
                org = Organization.objects.create(id=org_id, name=name, path=f"/{org_id}/")
        except IntegrityError as exc:  # a concurrent signup took the name
            raise ValidationError({"name": ORGANIZATION_NAME_TAKEN}) from exc
        audit_record(
            action=AuditAction.ORGANIZATION_CREATED,
            organization=org,
            actor=None,
            target=org,
            details={"name": name},
            meta=meta,
        )
    return org


def business_group_create(
    *, access: Access, parent: Organization, name: str, meta: RequestMeta | None = None
) -> Organization:
    """Create a BG under `parent`; needs manage:business_groups on the parent."""
    access.require(Permission.MANAGE_BUSINESS_GROUPS, parent)
    name = _clean_name(name)
    if parent.depth + 1 > MAX_TREE_DEPTH:
        raise ValidationError({"name": BUSINESS_GROUP_TOO_DEEP.format(depth=MAX_TREE_DEPTH)})
    with transaction.atomic():
        if Organization.objects.filter(parent=parent, name__iexact=name).exists():
            raise ValidationError({"name": BUSINESS_GROUP_NAME_TAKEN})
        org_id = uuid.uuid4()
        try:
            with transaction.atomic():
                group = Organization.objects.create(
                    id=org_id,
                    name=name,
                    parent=parent,
                    root_id=parent.root_id_or_self,
                    path=f"{parent.path}{org_id}/",
                )
        except IntegrityError as exc:  # a concurrent request took the name
            raise ValidationError({"name": BUSINESS_GROUP_NAME_TAKEN}) from exc
        audit_record(
            action=AuditAction.BUSINESS_GROUP_CREATED,
            organization=group,
            **access.audit_actor,
            target=group,
            details={"name": name, "parent_id": str(parent.id)},
            meta=meta,
        )
    return group


def organization_rename(
    *, access: Access, org: Organization, name: str, meta: RequestMeta | None = None
) -> Organization:
    """Rename an org or BG; needs edit:organization there."""
    access.require(Permission.EDIT_ORGANIZATION, org)
    name = _clean_name(name)
    with transaction.atomic():
        siblings = (
            Organization.objects.filter(parent=org.parent)
            if org.parent_id
            else Organization.objects.filter(parent__isnull=True)
        )
        if siblings.exclude(id=org.id).filter(name__iexact=name).exists():
            raise ValidationError(
                {"name": BUSINESS_GROUP_NAME_TAKEN if org.parent_id else ORGANIZATION_NAME_TAKEN}
            )
        old_name = org.name
        org.name = name
        org.save(update_fields=["name", "updated_at"])
        audit_record(
            action=AuditAction.ORGANIZATION_UPDATED,
            organization=org,
            **access.audit_actor,
            target=org,
            details={"name": {"from": old_name, "to": name}},
            meta=meta,
        )
    return org


# ---------------------------------------------------------------------------------------------
# Environments
# ---------------------------------------------------------------------------------------------
def environment_create(
    *,
    access: Access,
    org: Organization,
    name: str,
    type: str,
    meta: RequestMeta | None = None,
) -> Environment:
    """Create an environment in an org/BG; needs edit:environment org-wide there."""
    access.require(Permission.EDIT_ENVIRONMENT, org)
    name = _clean_name(name)
    if type not in EnvironmentType.values:
        raise ValidationError({"type": ENVIRONMENT_TYPE_INVALID})
    with transaction.atomic():
        if Environment.objects.filter(organization=org, name__iexact=name).exists():
            raise ValidationError({"name": ENVIRONMENT_NAME_TAKEN})
        environment = Environment.objects.create(organization=org, name=name, type=type)
        audit_record(
            action=AuditAction.ENVIRONMENT_CREATED,
            organization=org,
            **access.audit_actor,
            target=environment,
            details={"name": name, "type": type},
            meta=meta,
        )
    return environment
