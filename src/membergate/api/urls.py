"""The incoming API, at /api/v1 and at the OptimizeMentor-compatible alias."""

from django.urls import URLResolver, path

from membergate.api.views import api, opm_alias

urlpatterns: list[URLResolver] = [
    path("api/v1/", api.urls),
    path("wp-json/opm-api/v1/", opm_alias.urls),
]
