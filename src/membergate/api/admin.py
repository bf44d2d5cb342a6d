"""The request log in the admin: what came in, what it got, and why."""

import json
import logging
from typing import Any

from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from membergate.api.models import RequestLog
from membergate.api.replay import resend_request
from membergate.core.counting import EstimatingPaginator
from membergate.members.models import Member

logger = logging.getLogger(__name__)

# What each error of the contract means for the site owner, and what to do.
ADVICE = {
    "missing_api_key": (
        "The request carried no API key. Use the webhook URL from API settings "
        "(it holds the key as opm_api_key), or send the key in the X-API-Key "
        "header."
    ),
    "invalid_api_key": (
        "The API key is mistyped or was revoked. Create a new key in API "
        "settings and update the URL in the zap or scenario."
    ),
    "method_not_allowed": (
        "The webhook used the wrong method. Set the webhook step to POST "
        "(PUT works too); GET only reads."
    ),
    "payload_too_large": (
        "The body was over 64 KiB. Send only the member's fields: email, names, "
        "memberships, notify."
    ),
    "unsupported_media_type": (
        "The body was in a format Membergate cannot read. Send JSON, form fields "
        "(form-urlencoded) or multipart form data."
    ),
    "invalid_json": (
        "The body claimed to be JSON but is not valid JSON. Check the zap's "
        "data mapping for stray quotes or commas."
    ),
    "missing_email": (
        "No email was sent. Map the customer's email to a field named email."
    ),
    "invalid_email": (
        "The email is not a valid address. Check which field of the shop or "
        "form is mapped to email."
    ),
    "invalid_name": (
        "A first or last name was longer than 150 characters or not text. Map "
        "only the name fields to first_name and last_name."
    ),
    "invalid_notify": (
        "notify must be 1 or 0 (or true/false, yes/no, on/off). Fix the value "
        "in the URL or the body."
    ),
    "invalid_memberships": (
        "The membership ids could not be read. Send numbers, e.g. "
        "memberships=1,2 or membership_id=1."
    ),
    "unknown_membership": (
        "The membership id in the URL does not exist or is archived: check "
        "Memberships for the id, or unarchive the membership, then resend."
    ),
    "member_not_found": (
        "No member has this email. Create the member first (the create member "
        "action), or check the address for typos, then resend."
    ),
    "idempotency_key_reused": (
        "The Idempotency-Key header was reused for a different request. Let "
        "each new request send a new key."
    ),
    "rate_limited": (
        "Too many requests in a minute. The sender should wait and retry; raise "
        "the key's limit in API keys if this traffic is expected."
    ),
}
RESENDABLE = {
    RequestLog.Action.CREATE_MEMBER,
    RequestLog.Action.ADD_MEMBERSHIP,
    RequestLog.Action.REMOVE_MEMBERSHIP,
}


def advice_for(entry: RequestLog) -> str:
    if entry.succeeded:
        return ""
    if entry.error_code in ADVICE:
        return ADVICE[entry.error_code]
    if entry.status_code >= 500:
        return "Membergate failed to answer. The server's log names the cause."
    return f"The request was refused ({entry.error_code or entry.status_code})."


class ResultFilter(admin.SimpleListFilter):
    title = "result"
    parameter_name = "result"

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]
    ) -> list[tuple[str, str]]:
        return [("success", "Success"), ("failure", "Failure")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        success = Q(status_code__gte=200, status_code__lt=300)
        if self.value() == "success":
            return queryset.filter(success)
        if self.value() == "failure":
            return queryset.exclude(success)
        return queryset


def _pretty(value: Any) -> str:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return format_html('<pre class="mg-pre">{}</pre>', value or "-")
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
    return format_html('<pre class="mg-pre">{}</pre>', text)


SUMMARY_FIELDS = ("created_at", "action", "result", "explanation")
REQUEST_FIELDS = (
    "method",
    "path",
    "pretty_query",
    "pretty_headers",
    "content_type",
    "pretty_body",
    "email",
    "key_name",
    "source_ip",
    "idempotency_key",
    "resent_from",
)
ANSWER_FIELDS = ("pretty_response", "duration")


@admin.register(RequestLog)
class RequestLogAdmin(admin.ModelAdmin[RequestLog]):
    list_display = (
        "created_at",
        "action",
        "result",
        "email",
        "key_name",
        "duration",
    )
    list_filter = ("action", ResultFilter, "api_key")
    search_fields = ("email",)
    search_help_text = "The start of the email address sent."
    date_hierarchy = "created_at"
    show_full_result_count = False
    paginator = EstimatingPaginator
    list_per_page = 50
    change_form_template = "admin/api/requestlog/change_form.html"
    fieldsets = (
        (None, {"fields": SUMMARY_FIELDS}),
        ("Request", {"fields": REQUEST_FIELDS}),
        ("Answer", {"fields": ANSWER_FIELDS}),
    )
    # Every field shown is read-only: the log records what happened.
    readonly_fields = SUMMARY_FIELDS + REQUEST_FIELDS + ANSWER_FIELDS

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[RequestLog], search_term: str
    ) -> tuple[QuerySet[RequestLog], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        # The email as sent: usually lower case, but senders vary.
        condition = Q(email__startswith=term) | Q(email__startswith=term.lower())
        return queryset.filter(condition), False

    @admin.display(description="result", ordering="status_code")
    def result(self, entry: RequestLog) -> str:
        css = "mg-ok" if entry.succeeded else "mg-fail"
        label = str(entry.status_code)
        if entry.error_code:
            label += f" {entry.error_code}"
        return format_html('<span class="{}">{}</span>', css, label)

    @admin.display(description="what it means")
    def explanation(self, entry: RequestLog) -> str:
        advice = advice_for(entry)
        if not advice:
            return "The request succeeded."
        return format_html('<p class="mg-advice">{}</p>', advice)

    @admin.display(description="duration", ordering="duration_ms")
    def duration(self, entry: RequestLog) -> str:
        return f"{entry.duration_ms:.0f} ms"

    @admin.display(description="query")
    def pretty_query(self, entry: RequestLog) -> str:
        return format_html('<pre class="mg-pre">{}</pre>', entry.query or "-")

    @admin.display(description="headers")
    def pretty_headers(self, entry: RequestLog) -> str:
        return _pretty(entry.headers)

    @admin.display(description="body")
    def pretty_body(self, entry: RequestLog) -> str:
        return _pretty(entry.body) if entry.body else "-"

    @admin.display(description="answer")
    def pretty_response(self, entry: RequestLog) -> str:
        return _pretty(entry.response)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<int:entry_id>/resend/",
                self.admin_site.admin_view(self.resend_view),
                name="api_requestlog_resend",
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
        entry = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if entry is not None and can_resend(entry):
            context["resend_url"] = reverse(
                "admin:api_requestlog_resend", args=[entry.pk]
            )
        return super().change_view(request, object_id, form_url, context)

    def resend_view(self, request: HttpRequest, entry_id: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        entry = get_object_or_404(RequestLog, pk=entry_id)
        back = HttpResponseRedirect(
            reverse("admin:api_requestlog_change", args=[entry.pk])
        )
        if not request.user.has_perm("members.change_member"):
            self.message_user(
                request,
                "You may not change members, so you may not resend.",
                messages.ERROR,
            )
            return back
        if not can_resend(entry):
            self.message_user(
                request,
                "Only a failed change to a member can be resent.",
                messages.ERROR,
            )
            return back

        user = request.user
        assert isinstance(user, Member)  # admin_view lets in staff only
        resent = resend_request(entry, user)
        logger.info("%s resent request log entry %s", request.user, entry.pk)
        if resent.succeeded:
            self.message_user(
                request,
                f"Resent: it succeeded ({resent.status_code}).",
                messages.SUCCESS,
            )
        else:
            self.message_user(
                request,
                f"Resent, and it failed again ({resent.status_code} "
                f"{resent.error_code}): {advice_for(resent)}",
                messages.ERROR,
            )
        return HttpResponseRedirect(
            reverse("admin:api_requestlog_change", args=[resent.pk])
        )


def can_resend(entry: RequestLog) -> bool:
    return not entry.succeeded and entry.action in RESENDABLE
