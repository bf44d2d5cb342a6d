"""Request ids, the one log line per request, and request metrics."""

import logging
import re
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBase

from membergate.core import metrics
from membergate.core.latebody import late_body_message, late_body_seconds
from membergate.core.logs import current_request_id

logger = logging.getLogger("membergate.requests")

# An id from a proxy or client is kept when it is short and plain, so it can
# be quoted, searched for and stored in the request log (64 characters);
# anything else is replaced rather than written to the logs as given.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def get_request_id(request: HttpRequest) -> str:
    """Return the id RequestIdMiddleware gave this request ("" outside one)."""
    return str(getattr(request, "request_id", ""))


def is_api_path(path: str) -> bool:
    """Under either base URL of the API, where answers are JSON."""
    return path.startswith(("/api/", "/wp-json/"))


def _action(request: HttpRequest) -> str:
    """Name the route that answered, never the raw path: metric labels stay few."""
    match = request.resolver_match
    if match is None:
        return "unmatched"
    return match.url_name or match.view_name or "unnamed"


class RequestIdMiddleware:
    """Give each request an id, answer it in X-Request-ID and log the request.

    Placed first, so the id is set before anything else can log or fail, and
    the line is written for every answer, errors included.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        incoming = request.headers.get("X-Request-ID", "").strip()
        if _SANE_REQUEST_ID.fullmatch(incoming):
            request_id = incoming
        else:
            request_id = uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        token = current_request_id.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            duration = time.perf_counter() - started
            response.headers["X-Request-ID"] = request_id

            action = _action(request)
            metrics.observe_request(action, response.status_code, duration)
            # The client's address is the one ClientAddressMiddleware found
            # behind trusted proxies.
            client = request.META.get("REMOTE_ADDR", "")
            path = loggable_path(request)
            logger.info(
                "%s %s %s %.1fms from %s",
                request.method,
                path,
                response.status_code,
                duration * 1000,
                client,
                extra={
                    "method": request.method,
                    "path": path,
                    "status": response.status_code,
                    "duration_ms": round(duration * 1000, 1),
                    "action": action,
                    "client": client,
                },
            )
            return response
        finally:
            current_request_id.reset(token)


def loggable_path(request: HttpRequest) -> str:
    """The request's path as it may be logged: without secrets.

    The path never holds the query string, where an API key may be; the
    token of the emailed set-password link is masked wherever the link
    lands: on its page, on the redirect that adds a missing slash, or on a
    404 when a mail client appended something. Django's own next step,
    ``/set-password/<uid>/set-password/``, holds no secret and is kept.
    """
    return _SET_PASSWORD_TOKEN.sub(r"\1[token]", request.path)


# /account/set-password/<uidb64>/<token>[/anything]: the segment after the uid.
_SET_PASSWORD_TOKEN = re.compile(
    r"^(/account/set-password/[^/]+/)(?!set-password(?:/|$))[^/]+"
)


class LateBodyMiddleware:
    """Answer 408 to a page request whose body missed its deadline.

    Placed after the request id and client address are known and after the
    security headers' middleware, so the 408 carries them; API calls go on
    to the API, which answers them and records them in its request log.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        seconds = late_body_seconds(request)
        if seconds is None or is_api_path(request.path):
            return self.get_response(request)
        return HttpResponse(
            f"{late_body_message(seconds)} (request id {get_request_id(request)})",
            status=408,
            content_type="text/plain; charset=utf-8",
        )
