"""Forms of the members' admin: addresses in their one stored form."""

from typing import Any

from django import forms
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm

from membergate.members.emails import InvalidEmail, normalize_email
from membergate.members.models import Member, Membership


def _clean_email(form: forms.ModelForm[Member]) -> str:
    try:
        return normalize_email(form.cleaned_data["email"])
    except InvalidEmail:
        raise forms.ValidationError("Enter a valid email address.") from None


class MemberCreationForm(AdminUserCreationForm[Member]):
    class Meta:
        model = Member
        fields = ("email", "first_name", "last_name")

    def clean_email(self) -> str:
        return _clean_email(self)


class MemberChangeForm(UserChangeForm[Member]):
    class Meta:
        model = Member
        fields = "__all__"

    def clean_email(self) -> str:
        return _clean_email(self)


class MembershipForm(forms.ModelForm[Membership]):
    """Asks for exactly the fields the chosen access duration needs."""

    class Meta:
        model = Membership
        fields = ("title", "duration", "duration_count", "ends_at")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        duration = cleaned.get("duration")
        if duration in Membership.COUNTED:
            if not cleaned.get("duration_count"):
                self.add_error(
                    "duration_count",
                    f"Say how many {duration} the access lasts (1 or more).",
                )
            cleaned["ends_at"] = None
        elif duration == Membership.Duration.UNTIL:
            if not cleaned.get("ends_at"):
                self.add_error("ends_at", "Say when the access ends.")
            cleaned["duration_count"] = None
        elif duration == Membership.Duration.LIFETIME:
            cleaned["duration_count"] = None
            cleaned["ends_at"] = None
        return cleaned
