from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html, format_html_join

from membergate.mail import rendering, services
from membergate.mail.models import Delivery, EmailTemplate


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin[Delivery]):
    list_display = [
        "created_at",
        "to_email",
        "kind",
        "status",
        "attempts",
        "short_error",
        "sent_at",
    ]
    list_filter = ["status", "kind"]
    search_fields = ["to_email", "subject"]
    raw_id_fields = ["member"]
    list_select_related = ["member"]
    date_hierarchy = None
    show_full_result_count = False
    actions = ["retry"]
    fields = readonly_fields = (
        "to_email",
        "member",
        "kind",
        "subject",
        "status",
        "attempts",
        "last_error",
        "created_at",
        "next_attempt_at",
        "sent_at",
    )

    @admin.display(description="last error")
    def short_error(self, delivery: Delivery) -> str:
        error = delivery.last_error
        return error if len(error) <= 80 else error[:79] + "…"

    @admin.action(description="Send the selected failed emails again")
    def retry(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        count = services.retry_deliveries(
            list(queryset.filter(status=Delivery.Status.FAILED))
        )
        skipped = queryset.count() - count
        self.message_user(request, f"{count} emails queued again.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                f"{skipped} selected emails had not failed and were left alone.",
                messages.WARNING,
            )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: Delivery | None = None
    ) -> bool:
        return False


# The name of the change form's Preview button.
PREVIEW = "_preview"


class EmailTemplateForm(forms.ModelForm[EmailTemplate]):
    # True when the owner asked for a preview: the form is checked and shown
    # again, the text rendered, and nothing is saved.
    preview_only = False

    class Meta:
        model = EmailTemplate
        fields = ["subject", "body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 18, "cols": 80})}

    def is_valid(self) -> bool:
        # The admin saves only a valid form; a preview shows the page again
        # with the posted text, its errors (if any) as a save would show
        # them, and the text rendered from the unsaved instance.
        return super().is_valid() and not self.preview_only

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        subject, body = data.get("subject"), data.get("body")
        if not isinstance(subject, str) or not isinstance(body, str):
            return data
        try:
            rendered = rendering.render(subject, body, rendering.sample_context())
        except rendering.InvalidText as exc:
            raise forms.ValidationError(f"This text cannot be used: {exc}") from None
        if rendering.sample_context()["link"] not in rendered.text:
            self.add_error(
                "body", "The text must contain {{ link }}, or members cannot sign in."
            )
        return data


@admin.register(EmailTemplate)
class EmailTemplateAdmin(admin.ModelAdmin[EmailTemplate]):
    form = EmailTemplateForm
    list_display = ["__str__", "subject", "updated_at"]
    fields = ["kind", "placeholders", "subject", "body", "preview"]
    readonly_fields = ["kind", "placeholders", "preview"]

    def get_form(
        self,
        request: HttpRequest,
        obj: EmailTemplate | None = None,
        change: bool = False,
        **kwargs: Any,
    ) -> type[forms.ModelForm[EmailTemplate]]:
        form = super().get_form(request, obj, change, **kwargs)
        if _previewing(request):
            return type(form.__name__, (form,), {"preview_only": True})
        return form

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra = {**(extra_context or {}), "previewing": _previewing(request)}
        return super().changeform_view(request, object_id, form_url, extra)

    @admin.display(description="placeholders")
    def placeholders(self, template: EmailTemplate) -> str:
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li><code>{{{{ {} }}}}</code>: {}</li>",
                rendering.PLACEHOLDERS.items(),
            ),
        )

    @admin.display(description="preview, for a sample member")
    def preview(self, template: EmailTemplate) -> str:
        if template.pk is None:
            return "-"
        try:
            rendered = rendering.render(
                template.subject, template.body, rendering.sample_context()
            )
        except rendering.InvalidText as exc:
            return f"This text cannot be used: {exc}"
        return format_html(
            "<p><strong>Subject:</strong> {}</p>"
            '<pre class="mail-preview-text">{}</pre>'
            '<iframe title="HTML version" sandbox srcdoc="{}"'
            ' width="100%" height="480"></iframe>',
            rendered.subject,
            rendered.text,
            rendered.html,
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: EmailTemplate | None = None
    ) -> bool:
        return False


def _previewing(request: HttpRequest) -> bool:
    return request.method == "POST" and PREVIEW in request.POST
