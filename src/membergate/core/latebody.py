"""Requests whose body did not arrive within the deadline.

`membergate.asgi` hands such a request on with an empty body and LATE_BODY
in its environ, holding the deadline in seconds. Nothing may read its body:
pages answer 408 in LateBodyMiddleware; the API answers 408 itself, so that
its request log records the call like any other.
"""

from django.http import HttpRequest

LATE_BODY = "membergate.late_body"


def late_body_seconds(request: HttpRequest) -> float | None:
    """The deadline the request's body missed, or None when it arrived."""
    seconds = request.META.get(LATE_BODY)
    return None if seconds is None else float(seconds)


def late_body_message(seconds: float) -> str:
    return (
        f"The request body did not arrive within {seconds:g} seconds. "
        "Send the request again."
    )
