"""The admin for memberships and members, fast with a million members."""

import logging
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth.admin import UserAdmin
from django.db import transaction
from django.db.models import Prefetch, Q, QuerySet
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html_join

from membergate.core.counting import EstimatingPaginator
from membergate.members.admin_filters import (
    HoldsMembershipFilter,
    StatusFilter,
    email_prefix,
)
from membergate.members.admin_forms import (
    MemberChangeForm,
    MemberCreationForm,
    MembershipForm,
)
from membergate.members.models import Grant, Member, Membership
from membergate.members.services import (
    Actor,
    UnknownMemberships,
    active_grants,
    active_member_counts,
    grant_memberships,
    resolve_memberships,
    revoke_memberships,
)

logger = logging.getLogger(__name__)

BOTH_PLACES = [admin.ActionLocation.CHANGE_LIST, admin.ActionLocation.CHANGE_FORM]


class MembershipChangeList(ChangeList):
    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        # One query for the whole page, not one per row.
        counts = active_member_counts()
        rows = list(self.result_list)
        for membership in rows:
            membership.active_members = counts.get(membership.pk, 0)
        self.result_list = rows


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin[Membership]):
    form = MembershipForm
    list_display = ("id", "title", "access_duration", "active_members", "status")
    list_display_links = ("id", "title")
    search_fields = ("title",)
    list_filter = (("archived_at", admin.EmptyFieldListFilter),)
    actions = ("archive", "unarchive")
    readonly_fields = ("id", "archived_at", "created_at")

    def get_fieldsets(self, request: HttpRequest, obj: Membership | None = None) -> Any:
        fields = ["title", "duration", "duration_count", "ends_at"]
        if obj is None:
            return [(None, {"fields": fields})]
        return [(None, {"fields": ["id", *fields, "archived_at", "created_at"]})]

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return MembershipChangeList

    def get_actions(
        self,
        request: HttpRequest,
        action_location: admin.ActionLocation = admin.ActionLocation.CHANGE_LIST,
    ) -> dict[str, Any]:
        # Deleting in bulk would list every grant it cannot delete; archive.
        actions = super().get_actions(request, action_location)
        actions.pop("delete_selected", None)
        return actions

    @admin.display(description="access duration", ordering="duration")
    def access_duration(self, obj: Membership) -> str:
        return obj.describe_duration()

    @admin.display(description="active members")
    def active_members(self, obj: Membership) -> int:
        count: int = getattr(obj, "active_members", 0)
        return count

    @admin.display(description="status", ordering="archived_at")
    def status(self, obj: Membership) -> str:
        return "archived" if obj.is_archived else "on sale"

    @admin.action(
        description="Archive: no new grants, members keep access",
        location=BOTH_PLACES,
    )
    def archive(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        changed = queryset.filter(archived_at__isnull=True).update(
            archived_at=timezone.now()
        )
        logger.info("%s archived %d memberships", request.user, changed)
        self.message_user(request, f"Archived {changed} membership(s).")

    @admin.action(description="Unarchive: grantable again", location=BOTH_PLACES)
    def unarchive(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        changed = queryset.filter(archived_at__isnull=False).update(archived_at=None)
        logger.info("%s unarchived %d memberships", request.user, changed)
        self.message_user(request, f"Unarchived {changed} membership(s).")

    def delete_view(
        self,
        request: HttpRequest,
        object_id: str,
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        membership = self.get_object(request, object_id)
        if membership is not None and membership.grants.exists():
            self.message_user(
                request,
                f"“{membership.title}” cannot be deleted: it has been granted, and "
                "its grants are kept as history. Archive it instead: nobody can "
                "be granted it any more, and it can be unarchived later.",
                messages.ERROR,
            )
            return HttpResponseRedirect(
                reverse("admin:members_membership_change", args=[membership.pk])
            )
        return super().delete_view(request, object_id, extra_context)


class GrantHistoryInline(admin.TabularInline[Grant, Member]):
    model = Grant
    fk_name = "member"
    verbose_name = "grant"
    verbose_name_plural = "grant history"
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "membership",
        "granted_at",
        "granted_by",
        "expires_at",
        "revoked_at",
        "revoked_by",
        "state",
    )
    ordering = ("-granted_at", "-id")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Grant]:
        return (
            super()
            .get_queryset(request)
            .select_related(
                "membership",
                "granted_by_key",
                "granted_by_user",
                "revoked_by_key",
                "revoked_by_user",
            )
        )

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="granted by")
    def granted_by(self, grant: Grant) -> str:
        return Grant.actor_label(grant.granted_by_key, grant.granted_by_user)

    @admin.display(description="revoked by")
    def revoked_by(self, grant: Grant) -> str:
        if grant.revoked_at is None:
            return "-"
        return Grant.actor_label(grant.revoked_by_key, grant.revoked_by_user)

    @admin.display(description="state")
    def state(self, grant: Grant) -> str:
        if grant.revoked_at is not None:
            return "revoked"
        return "active" if grant.is_active() else "expired"


@admin.register(Member)
class MemberAdmin(UserAdmin):  # type: ignore[type-arg]
    form = MemberChangeForm
    add_form = MemberCreationForm
    change_form_template = "admin/members/member/change_form.html"
    list_display = ("email", "first_name", "last_name", "memberships", "is_staff")
    list_filter = (HoldsMembershipFilter, StatusFilter, "is_staff", "is_active")
    search_fields = ("email",)
    search_help_text = (
        "The start of an email address; when no address starts with it, the "
        "start of a first or last name (“Ada Love”)."
    )
    ordering = ("-id",)
    list_per_page = 50
    show_full_result_count = False
    paginator = EstimatingPaginator
    inlines = (GrantHistoryInline,)
    readonly_fields = ("last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Name", {"fields": ("first_name", "last_name")}),
        (
            "Access to the admin",
            {
                "classes": ("collapse",),
                "fields": (
                    "is_active",
                    "is_staff",
                    "is_superuser",
                    "groups",
                    "user_permissions",
                ),
            },
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "email",
                    "first_name",
                    "last_name",
                    "usable_password",
                    "password1",
                    "password2",
                ),
            },
        ),
    )

    def get_inlines(self, request: HttpRequest, obj: Member | None) -> Any:
        return self.inlines if obj is not None else ()

    def get_queryset(self, request: HttpRequest) -> QuerySet[Member]:
        # Prefetched for the page's rows only, after the list is sliced.
        current = Prefetch(
            "grants",
            queryset=Grant.objects.active()
            .select_related("membership")
            .order_by("membership_id"),
            to_attr="active_grant_list",
        )
        return super().get_queryset(request).prefetch_related(current)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Member], search_term: str
    ) -> tuple[QuerySet[Member], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        by_email = queryset.filter(email_prefix(term.lower()))
        # Names have no index: searching them alongside the email would read
        # the whole table on every search, so they are searched only when no
        # address starts with the term.
        if "@" in term or by_email.exists():
            return by_email, False
        words = term.split()
        if len(words) == 1:
            by_name = Q(first_name__istartswith=term) | Q(last_name__istartswith=term)
        else:
            by_name = Q(first_name__istartswith=words[0]) & Q(
                last_name__istartswith=" ".join(words[1:])
            )
        return queryset.filter(by_name), False

    @admin.display(description="memberships")
    def memberships(self, member: Member) -> str:
        grants: list[Grant] = getattr(member, "active_grant_list", [])
        if not grants:
            return "-"
        return format_html_join(
            ", ", "{} · {}", ((g.membership_id, g.membership.title) for g in grants)
        )

    def get_urls(self) -> list[URLPattern]:
        change_memberships = self.admin_site.admin_view(self.change_memberships)
        return [
            path(
                "<int:member_id>/memberships/",
                change_memberships,
                name="members_member_memberships",
            ),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        member = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if member is not None:
            current = active_grants(member)
            held = {g.membership_id for g in current}
            context.update(
                current_grants=current,
                grantable=[
                    m for m in Membership.objects.grantable() if m.pk not in held
                ],
                memberships_url=reverse(
                    "admin:members_member_memberships", args=[member.pk]
                ),
                can_change_memberships=self.has_change_permission(request, member),
            )
        return super().change_view(request, object_id, form_url, context)

    def change_memberships(self, request: HttpRequest, member_id: int) -> HttpResponse:
        return _change_memberships(self, request, member_id)


def _change_memberships(
    model_admin: MemberAdmin, request: HttpRequest, member_id: int
) -> HttpResponse:
    """Grant or revoke memberships from a member's page, as the signed-in admin."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    member = get_object_or_404(Member, pk=member_id)
    back = HttpResponseRedirect(
        reverse("admin:members_member_change", args=[member_id])
    )
    if not model_admin.has_change_permission(request, member):
        model_admin.message_user(
            request, "You may not change this member.", messages.ERROR
        )
        return back
    action = request.POST.get("action")
    raw_ids = request.POST.getlist("membership")
    if action not in ("grant", "revoke") or not raw_ids:
        model_admin.message_user(
            request, "Choose at least one membership.", messages.WARNING
        )
        return back
    if not all(raw.isdigit() for raw in raw_ids):
        model_admin.message_user(
            request, "Membership ids must be whole numbers.", messages.ERROR
        )
        return back
    ids = [int(raw) for raw in raw_ids]
    actor = Actor(user=request.user)  # type: ignore[arg-type]

    try:
        with transaction.atomic():
            locked = Member.objects.select_for_update().get(pk=member.pk)
            if action == "grant":
                changed = grant_memberships(locked, resolve_memberships(ids), actor)
            else:
                chosen = list(Membership.objects.filter(pk__in=ids))
                changed = revoke_memberships(locked, chosen, actor)
    except UnknownMemberships as exc:
        model_admin.message_user(
            request,
            f"Nothing was changed: membership(s) {', '.join(map(str, exc.ids))} "
            "do not exist or are archived.",
            messages.ERROR,
        )
        return back

    done = "Granted" if action == "grant" else "Revoked"
    if changed:
        titles = dict(
            Membership.objects.filter(pk__in=changed).values_list("pk", "title")
        )
        names = ", ".join(f"{titles[i]} (#{i})" for i in changed)
        model_admin.log_change(request, member, f"{done} {names}")
        logger.info("%s: %s %s for member %s", request.user, done, changed, member.pk)
        model_admin.message_user(request, f"{done} {names}.")
    else:
        model_admin.message_user(request, "Nothing to change.", messages.WARNING)
    return back
