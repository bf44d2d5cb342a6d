"""The members' pages: sign in and out, set a password, see memberships."""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import PasswordResetConfirmView
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from membergate.accounts import throttle
from membergate.accounts.forms import NewLinkForm, SignInForm
from membergate.mail.tasks import send_password_link
from membergate.members.models import Member
from membergate.members.services import active_grants

View = Callable[..., HttpResponseBase]


def page(
    request: HttpRequest,
    template: str,
    context: dict[str, object] | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {"site_name": settings.SITE_NAME, **(context or {})}
    return render(request, f"accounts/{template}", context, status=status)


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("accounts:memberships")


@never_cache
@login_required(login_url=reverse_lazy("accounts:sign_in"))
def memberships(request: HttpRequest) -> HttpResponse:
    member = request.user
    assert isinstance(member, Member)
    return page(
        request,
        "memberships.html",
        {"member": member, "grants": active_grants(member)},
    )


@never_cache
@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest) -> HttpResponse:
    if request.method == "GET" and request.user.is_authenticated:
        return redirect(_next_url(request))
    form = SignInForm(request.POST if request.method == "POST" else None)
    context = {"form": form, "next": request.GET.get("next", ""), "error": ""}
    if request.method != "POST" or not form.is_valid():
        return page(request, "sign_in.html", context)

    email = form.cleaned_data["email"]
    keys = throttle.keys_for(email, request.META.get("REMOTE_ADDR"))
    minutes = throttle.locked_minutes(keys)
    if minutes:
        unit = "minute" if minutes == 1 else "minutes"
        context["error"] = f"Too many attempts. Try again in {minutes} {unit}."
        return page(request, "sign_in.html", context, status=429)

    member = authenticate(
        request, username=email, password=form.cleaned_data["password"]
    )
    if member is None:
        throttle.record_failure(keys)
        context["error"] = "This email and password do not match an account."
        return page(request, "sign_in.html", context)

    throttle.clear_account(keys)
    login(request, member)
    return redirect(_next_url(request))


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.success(request, "You are signed out.")
    return redirect("accounts:sign_in")


@require_http_methods(["GET", "POST"])
def new_link(request: HttpRequest) -> HttpResponse:
    form = NewLinkForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        # The look-up happens in the worker: this answer, and the time it
        # takes, are the same for an address with an account and without.
        send_password_link.enqueue(form.cleaned_data["email"])
        return redirect("accounts:new_link_sent")
    return page(request, "new_link.html", {"form": form})


def new_link_sent(request: HttpRequest) -> HttpResponse:
    return page(request, "new_link_sent.html")


class SetPasswordView(PasswordResetConfirmView):
    """The emailed link: it works until a password is set or it expires."""

    template_name = "accounts/set_password.html"
    post_reset_login = True
    post_reset_login_backend = "django.contrib.auth.backends.ModelBackend"
    success_url = reverse_lazy("accounts:memberships")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "site_name": settings.SITE_NAME}

    def form_valid(self, form):  # type: ignore[no-untyped-def]
        response = super().form_valid(form)
        messages.success(self.request, "Your password is set. You are signed in.")
        return response
