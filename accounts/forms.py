"""Forms of the accounts pages."""

from __future__ import annotations

from allauth.account.forms import LoginForm as AllauthLoginForm
from allauth.account.forms import ResetPasswordForm as AllauthResetPasswordForm
from allauth.account.forms import SignupForm as AllauthSignupForm
from django import forms
from django.core.exceptions import ValidationError

from accounts.models import Organization, User
from accounts.services import ORGANIZATION_NAME_TAKEN

LOGIN_HINT = "login_hint"
PASSWORD_OR_SSO = "Enter your password, or the email your company signs you in with."  # noqa: S105


class _PasswordInputTheBrowserMaySkip(forms.PasswordInput):
    """A password input without the HTML `required` attribute: a work email given alone goes
    to the company's identity provider (accounts.views.sign_in), so the browser must submit
    the form without a password; the form itself still requires one to sign in with."""

    def use_required_attribute(self, initial: object) -> bool:
        return False


class LoginForm(AllauthLoginForm):
    """allauth's sign-in form, prefilled with an OIDC `login_hint` (OIDC Core §3.1.2.1), which
    the authorization endpoint passes on to the sign-in page."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        hint = self.request.GET.get(LOGIN_HINT, "") if self.request is not None else ""
        if hint and not self.is_bound:
            self.fields["login"].initial = hint[: User._meta.get_field("username").max_length]
        self.fields["login"].label = "Username or email"
        password = self.fields["password"]
        password.error_messages["required"] = PASSWORD_OR_SSO
        password.widget = _PasswordInputTheBrowserMaySkip(
            attrs=password.widget.attrs, render_value=password.widget.render_value
        )


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
