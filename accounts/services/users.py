"""Writes for users: creating one in an org, signing up an org with its first administrator,
the idempotent bootstrap of an org and its administrator, and a user's own profile.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from accounts.access import Access
from accounts.catalog import Permission, Role
from accounts.models import Organization, RoleGrant, User
from accounts.services.names import NAME_INVALID, _has_control_characters
from accounts.services.organizations import organization_create_root
from audit.models import AuditAction
from audit.services import RequestMeta, audit_record

USERNAME_TAKEN = "This username is already taken."
USERNAME_INVALID = "Usernames are 1-150 letters, digits and @.+-_ characters."
EMAIL_INVALID = "Enter a valid email address."
PASSWORD_REQUIRED = "A password is required."  # noqa: S105 (a message, not a password)
PERSON_NAME_TOO_LONG = "First and last names are at most 150 characters."
USER_IN_ANOTHER_ORGANIZATION = "User {username} already belongs to another organization."


def _password_errors(password: object, user: User) -> list[str]:
    if not isinstance(password, str) or not password:
        return [PASSWORD_REQUIRED]
    try:
        validate_password(password, user)
    except ValidationError as exc:
        return list(exc.messages)
    return []


def _email_errors(email: str) -> list[str]:
    try:
        validate_email(email)
    except ValidationError:
        return [EMAIL_INVALID]
    return []


def _username_errors(username: str) -> list[str]:
    try:
        if not username or len(username) > 150:
            raise ValidationError(USERNAME_INVALID)
        UnicodeUsernameValidator(message=USERNAME_INVALID)(username)
    except ValidationError:
        return [USERNAME_INVALID]
    if User.objects.filter(username__iexact=username).exists():
        return [USERNAME_TAKEN]
    return []


def _as_text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _clean_user_fields(
    *, username: object, email: object, first_name: object, last_name: object
) -> dict[str, str]:
    """Trimmed text fields; the username NFKC-normalised, as Django's own forms do (a
    full-width "root" and "root" are one username)."""
    return {
        "username": User.normalize_username(_as_text(username)),
        "email": _as_text(email),
        "first_name": _as_text(first_name),
        "last_name": _as_text(last_name),
    }


def _validate_new_user(
    *, username: str, email: str, password: str, first_name: str = "", last_name: str = ""
) -> dict[str, str]:
    """Every problem with a new user's fields at once; the cleaned fields (no password)."""
    fields = _clean_user_fields(
        username=username, email=email, first_name=first_name, last_name=last_name
    )
    errors: dict[str, list[str]] = {
        "username": _username_errors(fields["username"]),
        "email": _email_errors(fields["email"]),
        "password": _password_errors(
            password, User(username=fields["username"], email=fields["email"])
        ),
    }
    errors.update(_person_name_errors(fields))
    errors = {name: messages for name, messages in errors.items() if messages}
    if errors:
        raise ValidationError(errors)
    return fields


PROFILE_FIELDS = ("first_name", "last_name")


def _person_name_errors(fields: dict[str, str]) -> dict[str, list[str]]:
    """The problems with cleaned first and last names: at most 150 characters, none of them
    a control character."""
    errors: dict[str, list[str]] = {}
    for name in PROFILE_FIELDS:
        if len(fields[name]) > 150:
            errors[name] = [PERSON_NAME_TOO_LONG]
        elif _has_control_characters(fields[name]):
            errors[name] = [NAME_INVALID]
    return errors


def _user_insert(
    *,
    organization: Organization,
    username: str,
    email: str,
    password: str,
    first_name: str,
    last_name: str,
) -> User:
    """Insert a validated user (see `_validate_new_user`)."""
    user = User(
        organization=organization,
        username=username,
        email=email,
        first_name=first_name,
        last_name=last_name,
    )
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:  # a concurrent request took the username
        raise ValidationError({"username": USERNAME_TAKEN}) from exc
    return user


def user_create(
    *,
    access: Access,
    org: Organization,
    username: str,
    email: str,
    password: str,
    first_name: str = "",
    last_name: str = "",
    meta: RequestMeta | None = None,
) -> User:
    """Add a member to the root org of `org`; needs manage:users at `org`."""
    access.require(Permission.MANAGE_USERS, org)
    fields = _validate_new_user(
        username=username,
        email=email,
        password=password,
        first_name=first_name,
        last_name=last_name,
    )
    with transaction.atomic():
        root = org if org.is_root else org.root
        user = _user_insert(organization=root, password=password, **fields)
        audit_record(
            action=AuditAction.USER_CREATED,
            organization=org,
            **access.audit_actor,
            target=user,
            details={"username": user.username},
            meta=meta,
        )
    return user


@dataclass(frozen=True)
class OrgWithAdmin:
    organization: Organization
    admin: User
    created: bool


def organization_signup(
    *,
    org_name: str,
    username: str,
    email: str,
    password: str,
    first_name: str = "",
    last_name: str = "",
    meta: RequestMeta | None = None,
) -> OrgWithAdmin:
    """A new root org with its first Organization Administrator, all or nothing."""
    fields = _validate_new_user(
        username=username,
        email=email,
        password=password,
        first_name=first_name,
        last_name=last_name,
    )
    with transaction.atomic():
        org = organization_create_root(name=org_name, meta=meta)
        admin = _user_insert(organization=org, password=password, **fields)
        RoleGrant.objects.create(user=admin, organization=org, role=Role.ORGANIZATION_ADMINISTRATOR)
        audit_record(
            action=AuditAction.USER_CREATED,
            organization=org,
            actor=admin,
            target=admin,
            details={"username": admin.username, "role": Role.ORGANIZATION_ADMINISTRATOR.value},
            meta=meta,
        )
    return OrgWithAdmin(organization=org, admin=admin, created=True)


def organization_bootstrap(
    *, org_name: str, username: str, password: str, email: str
) -> OrgWithAdmin:
    """Idempotent: the org and its admin exist afterwards, with this password and email.

    The admin must not belong to another organization; an existing admin is re-enabled.
    """
    org_name, username = _as_text(org_name), User.normalize_username(_as_text(username))
    with transaction.atomic():
        org = Organization.objects.filter(parent__isnull=True, name__iexact=org_name).first()
        user = User.objects.filter(username__iexact=username).first()
        if org is None and user is None:
            return organization_signup(
                org_name=org_name, username=username, email=email, password=password
            )
        if user is not None and user.organization_id != getattr(org, "id", None):
            raise ValidationError(
                {"admin": USER_IN_ANOTHER_ORGANIZATION.format(username=user.username)}
            )
        if user is None:
            fields = _validate_new_user(username=username, email=email, password=password)
            user = _user_insert(organization=org, password=password, **fields)
            audit_record(
                action=AuditAction.USER_CREATED,
                organization=org,
                actor=None,
                target=user,
                details={"username": user.username},
            )
        else:
            _user_restore(user, email=email, password=password)
        _, role_created = RoleGrant.objects.get_or_create(
            user=user, organization=org, role=Role.ORGANIZATION_ADMINISTRATOR
        )
        if role_created:
            audit_record(
                action=AuditAction.USER_PERMISSIONS_CHANGED,
                organization=org,
                actor=None,
                target=user,
                details={"after": {"role": Role.ORGANIZATION_ADMINISTRATOR.value}},
            )
    return OrgWithAdmin(organization=org, admin=user, created=False)


def _user_restore(user: User, *, email: str, password: str) -> None:
    """Bring an existing user back to this email and (validated) password, enabled."""
    email = _as_text(email)
    errors = {
        "email": _email_errors(email),
        "password": _password_errors(password, User(username=user.username, email=email)),
    }
    errors = {name: messages for name, messages in errors.items() if messages}
    if errors:
        raise ValidationError(errors)
    user.email = email
    user.is_active = True
    fields = ["email", "is_active"]
    # Only a new password is set: setting one ends the admin's sessions and platform tokens
    # (accounts.sessions), and a re-run of an idempotent bootstrap must not.
    if not user.check_password(password):
        user.set_password(password)
        fields.append("password")
    user.save(update_fields=fields)


def user_profile_update(
    *, user: User, first_name: object, last_name: object, meta: RequestMeta | None = None
) -> User:
    """The signed-in user's own first and last names (their account page): trimmed, at most
    150 characters, no control characters. Only `user`'s row is written, and only when a
    name changed; the event records both names before and after."""
    fields = {"first_name": _as_text(first_name), "last_name": _as_text(last_name)}
    errors = _person_name_errors(fields)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        current = User.objects.select_for_update().get(pk=user.pk)
        before = {name: getattr(current, name) for name in PROFILE_FIELDS}
        after = {name: fields[name] for name in PROFILE_FIELDS}
        if before == after:
            return current
        for name, value in after.items():
            setattr(current, name, value)
        current.save(update_fields=list(PROFILE_FIELDS))
        audit_record(
            action=AuditAction.USER_PROFILE_CHANGED,
            organization_id=current.organization_id,
            organization=None,
            actor=current,
            target=current,
            details={"before": before, "after": after},
            meta=meta,
        )
    for name, value in after.items():
        setattr(user, name, value)  # the caller's copy (request.user) shows the new names
    return current
