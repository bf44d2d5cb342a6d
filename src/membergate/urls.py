from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from membergate.core import views as core_views

urlpatterns = [
    path("health", core_views.health, name="health"),
    path("ready", core_views.ready, name="ready"),
    path("metrics", core_views.prometheus_metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("account/", include("membergate.accounts.urls")),
    path("", include("membergate.api.urls")),
]

if settings.BENCH_ENDPOINTS:
    urlpatterns.insert(0, path("bench/", include("membergate.benchmark.urls")))

handler500 = "membergate.core.views.server_error"
