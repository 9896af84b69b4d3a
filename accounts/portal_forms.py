"""Django forms of the Access Management portal pages.

The forms only shape input; the services validate it again and decide who may do what. A
service's `ValidationError` is copied onto the form with `add_service_errors`.
"""

from __future__ import annotations

from collections.abc import Iterable

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError

from accounts.catalog import PERMISSIONS, Permission
from accounts.models import Environment, EnvironmentType

ROLE_REMOVAL_NOT_CONFIRMED = (
    "Removing the Organization Administrator role takes away every permission it granted. "
    "Tick the confirmation box to remove it."
)


def add_service_errors(form: forms.Form, exc: ValidationError | PermissionDenied) -> None:
    """Put a service's ValidationError on `form`: on the named field if the form has it. A
    PermissionDenied (power the user does not hold) is a form-wide error."""
    if isinstance(exc, PermissionDenied):
        form.add_error(None, str(exc))
    elif hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


class NameForm(forms.Form):
    """A one-name form. Several share a page, so each has its own element ids."""

    id_prefix = "id"
    name = forms.CharField(label="Name", max_length=100)

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("auto_id", f"{self.id_prefix}_%s")
        super().__init__(*args, **kwargs)


class OrganizationRenameForm(NameForm):
    id_prefix = "id_rename"


class BusinessGroupCreateForm(NameForm):
    id_prefix = "id_business_group"
    name = forms.CharField(label="Business group name", max_length=100)


class IdentityProviderCreateForm(NameForm):
    id_prefix = "id_identity_provider"
    name = forms.CharField(label="JWT-bearer provider name", max_length=100)


class IdentityLinkForm(forms.Form):
    username = forms.CharField(
        label="Member's username",
        max_length=150,
        help_text="The provider's assertions naming this username will sign the member in.",
    )
    subject = forms.CharField(
        label="Subject at the provider",
        required=False,
        max_length=150,
        help_text="For single sign-on: the provider's id for them (OpenID Connect sub, SAML "
        "NameID). Empty: their username.",
    )


class EnvironmentCreateForm(NameForm):
    id_prefix = "id_environment"
    name = forms.CharField(label="Environment name", max_length=100)
    type = forms.ChoiceField(
        label="Type", choices=EnvironmentType.choices, initial=EnvironmentType.SANDBOX
    )


class UserSearchForm(forms.Form):
    q = forms.CharField(label="Search users", required=False, max_length=150)


class MemberCreateForm(forms.Form):
    username = forms.CharField(
        label="Username",
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    email = forms.EmailField(label="Email")
    first_name = forms.CharField(label="First name", max_length=150, required=False)
    last_name = forms.CharField(label="Last name", max_length=150, required=False)
    password = forms.CharField(
        label="Initial password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )


class UserPermissionsForm(forms.Form):
    """The permissions a user holds in one org/BG, and (for org admins) their role there.

    `show_role` is true only for viewers who are Organization Administrators of the org: only
    they may give or take the role, and the others never see the checkbox.
    """

    permissions = forms.MultipleChoiceField(
        label="Permissions",
        choices=Permission.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    environments = forms.MultipleChoiceField(
        label="Environments",
        required=False,
        help_text=(
            "Applies to the environment permissions. Check none for every environment of "
            "this organization."
        ),
        widget=forms.CheckboxSelectMultiple,
    )
    is_admin = forms.BooleanField(label="Organization Administrator", required=False)
    confirm_role_removal = forms.BooleanField(
        label="Yes, remove the Organization Administrator role", required=False
    )

    def __init__(
        self,
        *args,
        environments: Iterable[Environment] = (),
        show_role: bool = False,
        holds_role: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["environments"].choices = [(str(e.id), e.name) for e in environments]
        self.show_role = show_role
        self.holds_role = holds_role
        if not show_role:
            del self.fields["is_admin"]
            del self.fields["confirm_role_removal"]

    @property
    def removes_role(self) -> bool:
        return self.show_role and self.holds_role and not self.cleaned_data.get("is_admin")

    def clean(self) -> dict:
        cleaned = super().clean()
        if self.removes_role and not cleaned.get("confirm_role_removal"):
            self.add_error("confirm_role_removal", ROLE_REMOVAL_NOT_CONFIRMED)
        return cleaned

    def permission_groups(self) -> list[dict]:
        """The catalog grouped by area, each entry marked checked from the form's value."""
        selected = set(self["permissions"].value() or [])
        groups: dict[str, list[dict]] = {}
        for permission, info in PERMISSIONS.items():
            groups.setdefault(info.area, []).append(
                {
                    "value": permission.value,
                    "label": permission.label,
                    "environment_scoped": info.environment_scoped,
                    "checked": permission.value in selected,
                    "id": f"id_permission_{permission.value.replace(':', '_')}",
                }
            )
        return [{"area": area, "items": items} for area, items in groups.items()]


class SecurityPolicyForm(forms.Form):
    mfa_required = forms.ChoiceField(
        label="Who must use a second factor",
        choices=[
            ("off", "Nobody is required to"),
            ("admins", "Administrators"),
            ("everyone", "Every member"),
        ],
    )
    sso_enforced = forms.BooleanField(
        label="Members sign in through the organization's identity provider only",
        help_text="Members signed in any other way (password, passkey) are signed out on "
        "their next request and get no token without a single sign-on.",
        required=False,
    )


class SsoProviderForm(forms.Form):
    """Company SSO settings (accounts.sso_config checks them; its errors land on these
    fields, which carry the same names)."""

    name = forms.CharField(label="Name", max_length=100, help_text="What members see.")
    type = forms.ChoiceField(
        label="Type",
        choices=[("oidc", "OpenID Connect"), ("saml", "SAML 2.0")],
        widget=forms.RadioSelect,
        initial="oidc",
    )
    domains = forms.CharField(
        label="Email domains",
        required=False,
        max_length=2000,
        help_text="Comma-separated. People who type an email of these domains on the sign-in "
        "page are sent to this provider.",
    )
    issuer = forms.CharField(
        label="Issuer or discovery URL",
        required=False,
        max_length=500,
        help_text="OpenID Connect: e.g. https://login.example.com/realms/acme",
    )
    client_id = forms.CharField(label="Client ID", required=False, max_length=200)
    client_secret = forms.CharField(
        label="Client secret",
        required=False,
        max_length=500,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Kept sealed; never shown again. Leave empty to keep the current one.",
    )
    scopes = forms.CharField(
        label="Scopes", required=False, max_length=1000, initial="openid email profile"
    )
    metadata_url = forms.CharField(
        label="IdP metadata URL",
        required=False,
        max_length=500,
        help_text="SAML: fetched when you save (and by “Test connection”).",
    )
    metadata_xml = forms.CharField(
        label="IdP metadata XML",
        required=False,
        max_length=1_000_000,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="SAML: or paste the metadata document.",
    )
    entity_id = forms.CharField(label="IdP entity ID", required=False, max_length=500)
    map_username = forms.CharField(label="Username from", required=False, max_length=200)
    map_email = forms.CharField(label="Email from", required=False, max_length=200)
    map_first_name = forms.CharField(label="First name from", required=False, max_length=200)
    map_last_name = forms.CharField(label="Last name from", required=False, max_length=200)

    MAPPED = ("username", "email", "first_name", "last_name")

    def settings(self) -> dict:
        """The service's `settings` from the cleaned form."""
        data = self.cleaned_data
        mapping = {f: data[f"map_{f}"].strip() for f in self.MAPPED if data[f"map_{f}"].strip()}
        body: dict = {
            "domains": [d.strip() for d in data["domains"].split(",") if d.strip()],
        }
        if data["type"] == "oidc":
            body.update(
                issuer=data["issuer"],
                client_id=data["client_id"],
                client_secret=data["client_secret"],
                scopes=data["scopes"].split() or None,
                claim_mapping=mapping or None,
            )
        else:
            body.update(
                metadata_url=data["metadata_url"],
                metadata_xml=data["metadata_xml"],
                entity_id=data["entity_id"] or None,
                attribute_mapping=mapping or None,
            )
        return body

    @classmethod
    def initial_for(cls, provider) -> dict:
        config = provider.config
        mapping = config.get("claim_mapping") or config.get("attribute_mapping") or {}
        return {
            "name": provider.name,
            "type": provider.type,
            "domains": ", ".join(provider.domains),
            "issuer": config.get("issuer", ""),
            "client_id": config.get("client_id", ""),
            "scopes": " ".join(config.get("scopes") or []),
            "metadata_url": config.get("metadata_url", ""),
            "entity_id": config.get("entity_id", ""),
            **{f"map_{f}": mapping.get(f, "") for f in cls.MAPPED},
        }


class ProfileForm(forms.Form):
    """The viewer's own names (accounts.services.user_profile_update checks them again)."""

    first_name = forms.CharField(
        label="First name",
        max_length=150,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
    )
    last_name = forms.CharField(
        label="Last name",
        max_length=150,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "family-name"}),
    )
