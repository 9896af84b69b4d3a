"""Forms of the accounts pages."""

from __future__ import annotations

from allauth.account.forms import SignupForm as AllauthSignupForm
from django import forms
from django.core.exceptions import ValidationError

from accounts.models import Organization
from accounts.services import ORGANIZATION_NAME_TAKEN


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
