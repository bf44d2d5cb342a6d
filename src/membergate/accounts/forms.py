from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError

from membergate.accounts import throttle


class SignInForm(forms.Form):
    email = forms.CharField(
        max_length=254,
        widget=forms.EmailInput(
            attrs={"autocomplete": "username", "autofocus": True, "inputmode": "email"}
        ),
    )
    password = forms.CharField(
        max_length=4096,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class NewLinkForm(forms.Form):
    email = forms.EmailField(
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
        help_text="The address you signed up with.",
    )


class ThrottledAdminAuthenticationForm(AdminAuthenticationForm):
    """The admin's sign-in, slowed down after failures like members' sign-in.

    Site owners' accounts are the most valuable to guess, so they share the
    members' counters: per account and per source address.
    """

    def clean(self) -> dict[str, Any]:
        address = self.request.META.get("REMOTE_ADDR") if self.request else None
        keys = throttle.keys_for(self.cleaned_data.get("username") or "", address)
        minutes = throttle.locked_minutes(keys)
        if minutes:
            unit = "minute" if minutes == 1 else "minutes"
            raise ValidationError(
                f"Too many attempts. Try again in {minutes} {unit}.", code="throttled"
            )
        try:
            cleaned = super().clean()
        except ValidationError:
            throttle.record_failure(keys)
            raise
        throttle.clear_account(keys)
        return cleaned
