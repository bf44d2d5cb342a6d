"""The admin site: Membergate's name, landing page and API settings page."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, path, reverse

from membergate.accounts.forms import ThrottledAdminAuthenticationForm
from membergate.core.dashboard import landing_figures


class MembergateAdminSite(admin.AdminSite):
    site_header = "Membergate"
    site_title = "Membergate"
    index_title = "Overview"
    index_template = "admin/membergate_index.html"
    login_form = ThrottledAdminAuthenticationForm

    def get_urls(self) -> list[URLResolver | URLPattern]:
        from membergate.core.api_settings import api_settings

        return [
            path(
                "api-settings/",
                self.admin_view(api_settings),
                name="api_settings",
            ),
            *super().get_urls(),
        ]

    def get_app_list(
        self, request: HttpRequest, app_label: str | None = None
    ) -> list[dict[str, Any]]:
        apps = super().get_app_list(request, app_label)
        if app_label is None and request.user.is_staff:
            # Listed like an app so the index and the sidebar both show it.
            apps.insert(0, self._settings_app())
        return apps

    def _settings_app(self) -> dict[str, Any]:
        url = reverse("admin:api_settings", current_app=self.name)
        return {
            "name": "Settings",
            "app_label": "settings",
            "app_url": url,
            "has_module_perms": True,
            "models": [
                {
                    "name": "API settings",
                    "object_name": "ApiSettings",
                    "perms": {"view": True},
                    "admin_url": url,
                    "add_url": None,
                    "view_only": True,
                }
            ],
        }

    def index(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> TemplateResponse:
        context = {
            "figures": landing_figures(),
            "api_settings_url": reverse("admin:api_settings", current_app=self.name),
            **(extra_context or {}),
        }
        return super().index(request, context)
