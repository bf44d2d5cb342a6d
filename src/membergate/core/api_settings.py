"""The API settings page: base URLs, API keys and a webhook URL builder."""

import logging
import shlex
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse

from membergate.apikeys.models import ApiKey
from membergate.members.models import Membership

logger = logging.getLogger(__name__)

API_PATH = "/api/v1"
ALIAS_PATH = "/wp-json/opm-api/v1"

# What each action of the builder calls, and how it names memberships: one
# id goes in `membership_id` as OptimizeMentor documents it, several in
# `memberships`.
ACTIONS = {
    "create_member": ("Create member", "/members"),
    "add_membership": ("Add membership", "/members/add-membership"),
    "remove_membership": ("Remove membership", "/members/remove-membership"),
}


def base_urls() -> tuple[str, str]:
    base = settings.BASE_URL.rstrip("/")
    return base + API_PATH, base + ALIAS_PATH


class CreateKeyForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        help_text="Say where the key is used, e.g. “Zapier shop”.",
    )
    rate_limit_per_minute = forms.IntegerField(
        label="Requests a minute",
        required=False,
        min_value=1,
        max_value=100_000,
        help_text="Leave empty for no limit.",
    )

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"]
        if ApiKey.objects.filter(name=name).exists():
            raise forms.ValidationError("An API key with this name exists already.")
        return name


class MembershipChoiceField(forms.ModelMultipleChoiceField[Membership]):
    def label_from_instance(self, obj: Membership) -> str:
        return f"{obj.pk} · {obj.title}"


class WebhookUrlForm(forms.Form):
    action = forms.ChoiceField(
        choices=[(value, label) for value, (label, _) in ACTIONS.items()],
        widget=forms.RadioSelect,
        initial="add_membership",
    )
    memberships = MembershipChoiceField(
        queryset=Membership.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    notify = forms.BooleanField(
        label="Send the welcome email to new members", required=False
    )
    key = forms.CharField(
        label="API key",
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "off", "size": 50}),
        help_text="Paste a key, or create one above.",
    )
    alias = forms.BooleanField(
        label="Use the OptimizeMentor-compatible address", required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["memberships"]
        assert isinstance(field, MembershipChoiceField)
        field.queryset = Membership.objects.grantable()

    def clean_key(self) -> str:
        key: str = self.cleaned_data["key"].strip()
        if ApiKey.authenticate(key) is None:
            raise forms.ValidationError(
                "This is not a usable API key: it is mistyped or revoked."
            )
        return key

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean()
        assert cleaned is not None
        if cleaned.get("action") in ("add_membership", "remove_membership") and not (
            cleaned.get("memberships")
        ):
            self.add_error("memberships", "Choose at least one membership.")
        return cleaned

    def webhook(self) -> tuple[str, str]:
        """The webhook URL and a curl command that calls it."""
        data = self.cleaned_data
        api, alias = base_urls()
        url = (alias if data["alias"] else api) + ACTIONS[data["action"]][1]
        query: dict[str, str] = {"opm_api_key": data["key"]}
        ids = [str(m.pk) for m in data["memberships"]]
        if len(ids) == 1 and data["action"] != "create_member":
            query["membership_id"] = ids[0]
        elif ids:
            query["memberships"] = ",".join(ids)
        if data["notify"]:
            query["notify"] = "1"
        full = f"{url}?{urlencode(query, safe=',')}"
        body = '{"email": "member@example.com", "first_name": "Ada"}'
        curl = (
            f"curl -X POST {shlex.quote(full)} "
            f"-H 'Content-Type: application/json' -d {shlex.quote(body)}"
        )
        return full, curl


def api_settings(request: HttpRequest) -> HttpResponse:
    context: dict[str, Any] = {}
    create_form = CreateKeyForm(prefix="key")
    builder = WebhookUrlForm(prefix="url")
    posted = request.POST.get("form") if request.method == "POST" else None

    if posted == "create_key":
        _require(request, "apikeys.add_apikey")
        create_form = CreateKeyForm(request.POST, prefix="key")
        if create_form.is_valid():
            created = _create_key(request, create_form)
            if created is not None:
                key, secret = created
                context.update(new_key=key, new_secret=secret)
                builder = WebhookUrlForm(prefix="url", initial={"key": secret})
                create_form = CreateKeyForm(prefix="key")
    elif posted == "revoke_key":
        _require(request, "apikeys.change_apikey")
        key = get_object_or_404(ApiKey, pk=request.POST.get("key_id"))
        key.revoke()
        logger.info("API key %r revoked by %s", key.name, request.user)
        messages.success(request, f"The API key “{key.name}” is revoked.")
        return HttpResponseRedirect(reverse("admin:api_settings"))
    elif posted == "build_url":
        builder = WebhookUrlForm(request.POST, prefix="url")
        if builder.is_valid():
            context["webhook_url"], context["curl"] = builder.webhook()

    api, alias = base_urls()
    context.update(
        admin.site.each_context(request),
        title="API settings",
        api_url=api,
        alias_url=alias,
        keys=ApiKey.objects.all(),
        create_form=create_form,
        builder=builder,
        can_add_key=request.user.has_perm("apikeys.add_apikey"),
        can_revoke_key=request.user.has_perm("apikeys.change_apikey"),
    )
    return TemplateResponse(request, "admin/api_settings.html", context)


def _create_key(request: HttpRequest, form: CreateKeyForm) -> tuple[ApiKey, str] | None:
    try:
        with transaction.atomic():
            key, secret = ApiKey.create(
                form.cleaned_data["name"],
                rate_limit_per_minute=form.cleaned_data["rate_limit_per_minute"],
            )
    except IntegrityError:
        # Another owner took the name between the check and the insert.
        form.add_error("name", "An API key with this name exists already.")
        return None
    logger.info("API key %r created by %s", key.name, request.user)
    return key, secret


def _require(request: HttpRequest, permission: str) -> None:
    if not request.user.has_perm(permission):
        raise PermissionDenied
