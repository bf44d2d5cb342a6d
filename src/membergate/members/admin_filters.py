"""Filters and search of the members' list, each served by an index."""

from typing import Any

from django.contrib import admin
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import HttpRequest

from membergate.members.models import Grant, Membership


class HoldsMembershipFilter(admin.SimpleListFilter):
    title = "holds membership"
    parameter_name = "holds"

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]
    ) -> list[tuple[str, str]]:
        return [(str(m.pk), f"{m.pk} · {m.title}") for m in Membership.objects.all()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value or not value.isdigit():
            return queryset
        held = Grant.objects.active().filter(
            member=OuterRef("pk"), membership_id=int(value)
        )
        return queryset.filter(Exists(held))


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]
    ) -> list[tuple[str, str]]:
        return [("active", "Has an active membership"), ("none", "No membership")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        held = Exists(Grant.objects.active().filter(member=OuterRef("pk")))
        if self.value() == "active":
            return queryset.filter(held)
        if self.value() == "none":
            return queryset.filter(~held)
        return queryset


def email_prefix(prefix: str) -> Q:
    """Match addresses starting with ``prefix`` through the email index.

    PostgreSQL serves LIKE 'prefix%' from the pattern index Django makes
    beside the unique one. SQLite's LIKE ignores case and so cannot use a
    binary index; stored addresses are lower-case ASCII, so the same rows
    are a range of the index, which it can use.
    """
    condition = Q(email__startswith=prefix)
    if connection.vendor == "sqlite":
        condition &= Q(email__gte=prefix, email__lt=prefix + "\x7f")
    return condition
