"""Forms of the accounts pages."""

from __future__ import annotations

from allauth.account.forms import LoginForm as AllauthLoginForm
from allauth.account.forms import ResetPasswordForm as AllauthResetPasswordForm
from allauth.account.forms import SetPasswordForm as AllauthSetPasswordForm
from allauth.account.forms import SignupForm as AllauthSignupForm
from django import forms
from django.core.exceptions import ValidationError

from accounts.models import SSO_PROVIDER_TYPES, FederatedIdentity, Organization, User
from accounts.security_policy import sso_required_for
from accounts.services import ORGANIZATION_NAME_TAKEN

LOGIN_HINT = "login_hint"
SSO_ONLY = (
    "Your organization signs you in through its identity provider: enter your work email "
    "and leave the password empty."
)
PASSWORD_OR_SSO = "Enter your password, or the email your company signs you in with."  # noqa: S105
SIGNS_IN_THROUGH_SSO = (
    "Your organization signs you in through its identity provider: this account has no "
    "password of its own."
)


class LoginForm(AllauthLoginForm):
    """allauth's sign-in form, prefilled with an OIDC `login_hint` (OIDC Core §3.1.2.1), which
    the authorization endpoint passes on to the sign-in page."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        hint = self.request.GET.get(LOGIN_HINT, "") if self.request is not None else ""
        if hint and not self.is_bound:
            self.fields["login"].initial = hint[: User._meta.get_field("username").max_length]
        # SPEC §8: browser tests find this field by its exact name "Username"; the help under
        # the form says a work email is accepted too.
        self.fields["login"].label = "Username"
        if "remember" in self.fields:  # only when ACCOUNT_SESSION_REMEMBER leaves it to the user
            self.fields["remember"].label = "Remember me"
        # Not required in the page: a work email alone goes to the company's identity
        # provider (accounts.views.sign_in); without one, the password is asked for here.
        self.fields["password"].required = False

    def clean(self):
        cleaned = super().clean()
        user = getattr(self, "user", None)
        if user is not None and not self.errors and sso_required_for(user):
            raise ValidationError(SSO_ONLY)
        return cleaned

    def clean_password(self) -> str:
        password = self.cleaned_data.get("password") or ""
        if not password:
            raise ValidationError(PASSWORD_OR_SSO)
        return password


class SignupForm(AllauthSignupForm):
    """Signing up creates a new root organization; its creator becomes its administrator."""

    first_name = forms.CharField(label="First name", max_length=150, required=False)
    last_name = forms.CharField(label="Last name", max_length=150, required=False)
    organization_name = forms.CharField(label="Organization name", max_length=100)

    def clean_organization_name(self) -> str:
        name = self.cleaned_data["organization_name"].strip()
        if Organization.objects.filter(parent__isnull=True, name__iexact=name).exists():
            raise ValidationError(ORGANIZATION_NAME_TAKEN)
        return name


class ResetPasswordForm(AllauthResetPasswordForm):
    """allauth's, never for an account without a usable password: those sign in through an
    identity provider, whose assertions may set the email (SPEC §5), so a reset link sent
    there would hand the account to whoever controls that provider (issue 12)."""

    def clean_email(self) -> str:
        email = super().clean_email()
        self.users = [user for user in self.users if user.has_usable_password()]
        return email


class SetPasswordForm(AllauthSetPasswordForm):
    """allauth's, never for an account its organization's single sign-on signs in (SPEC
    §11): a password of its own would keep signing the person in after the identity provider
    stopped (deprovisioned, or its second factor left behind)."""

    def clean(self) -> dict:
        cleaned = super().clean()
        linked = FederatedIdentity.objects.filter(
            user=self.user, provider__type__in=SSO_PROVIDER_TYPES
        )
        if linked.exists():
            raise ValidationError(SIGNS_IN_THROUGH_SSO)
        return cleaned
