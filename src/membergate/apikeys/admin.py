"""API keys in the admin. Keys are made on the API settings page, which
shows the new secret once and builds webhook URLs with it."""

import logging
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone

from membergate.apikeys.models import ApiKey

logger = logging.getLogger(__name__)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin[ApiKey]):
    list_display = (
        "name",
        "display_prefix",
        "created_at",
        "last_used_at",
        "rate_limit_per_minute",
        "status",
    )
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("name",)
    fields = (
        "name",
        "display_prefix",
        "rate_limit_per_minute",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    readonly_fields = ("display_prefix", "created_at", "last_used_at", "revoked_at")
    actions = ("revoke",)

    @admin.display(description="status", ordering="revoked_at")
    def status(self, key: ApiKey) -> str:
        return "revoked" if key.is_revoked else "active"

    @admin.action(description="Revoke: the key stops working at once")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        names = list(
            queryset.filter(revoked_at__isnull=True).values_list("name", flat=True)
        )
        queryset.filter(name__in=names).update(revoked_at=timezone.now())
        logger.info("API keys %s revoked by %s", names, request.user)
        self.message_user(request, f"Revoked {len(names)} API key(s).")

    def add_view(
        self,
        request: HttpRequest,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:api_settings") + "#create-key")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Grants and the request log name the key that made them: revoke.
        return False
