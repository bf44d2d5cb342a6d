"""The incoming API, at /api/v1 and at the OptimizeMentor-compatible alias."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
