"""The smallest possible write, to measure the ceiling of the stack.

Mounted only with MEMBERGATE_BENCH_ENDPOINTS=1, so the benchmark runs it
through the same server, middleware and database settings as the API.
"""

import json

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from membergate.benchmark.models import Probe


@csrf_exempt
@require_POST
def insert(request: HttpRequest) -> JsonResponse:
    """Insert one row holding the body's ``value``; answer 201 with its id."""
    try:
        value = json.loads(request.body)["value"]
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"error": 'send {"value": "..."}'}, status=400)
    if not isinstance(value, str) or len(value) > 200:
        return JsonResponse({"error": "value: a string of at most 200"}, status=400)

    probe = Probe.objects.create(value=value)
    return JsonResponse({"id": probe.pk}, status=201)
