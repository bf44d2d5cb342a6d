import hmac

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.html import escape
from django.views.decorators.http import require_safe

from membergate.core import metrics
from membergate.core.health import check_readiness
from membergate.core.middleware import get_request_id, is_api_path


@require_safe
def health(request: HttpRequest) -> JsonResponse:
    """Liveness: 200 while the process answers and its database does."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return JsonResponse({"status": "error", "database": "unreachable"}, status=503)
    return JsonResponse({"status": "ok"})


@require_safe
def ready(request: HttpRequest) -> JsonResponse:
    """Readiness: 200 when the database, its schema and a worker are all fine."""
    checks = check_readiness()
    if all(outcome == "ok" for outcome in checks.values()):
        return JsonResponse({"status": "ok", "checks": checks})
    failed = [name for name, outcome in checks.items() if outcome != "ok"]
    return JsonResponse(
        {"status": "error", "failed": failed, "checks": checks}, status=503
    )


@require_safe
def prometheus_metrics(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    if not token:
        return HttpResponse("Not Found\n", status=404, content_type="text/plain")
    given = request.GET.get("token", "")
    authorization = request.headers.get("Authorization", "")
    if authorization.lower().startswith("bearer "):
        given = authorization[7:].strip()
    if not hmac.compare_digest(given.encode(), token.encode()):
        return HttpResponse(
            "Unauthorized: send the metrics token as a Bearer token\n",
            status=401,
            content_type="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    return HttpResponse(metrics.render(), content_type=metrics.CONTENT_TYPE)


def server_error(request: HttpRequest) -> HttpResponse:
    """Answer an unexpected failure with the id that finds it in the logs.

    Deliberately free of templates and the database, which may be what
    failed.
    """
    request_id = get_request_id(request)
    message = (
        "Something went wrong on the server. If you report it, "
        f"quote this id: {request_id}"
    )
    if is_api_path(request.path):
        return JsonResponse(
            {
                "code": "internal_error",
                "message": message,
                "data": {"status": 500, "request_id": request_id},
            },
            status=500,
        )
    page = (
        "<!doctype html><title>Server error</title>"
        f"<h1>Server error</h1><p>{escape(message)}</p>"
    )
    return HttpResponse(page, status=500)
