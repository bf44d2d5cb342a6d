"""The API's routes, at /api/v1 and at the OptimizeMentor-compatible alias.

Every route takes every method and hands the request to ``pipeline``, which
answers a wrong method with the contract's 405 (and logs it) instead of the
framework's own. A route is registered with and without a trailing slash,
since senders paste URLs both ways; only the first form is documented.
"""

import json
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Router
from ninja.openapi.schema import OpenAPISchema

from membergate.api import openapi, pipeline
from membergate.api.answers import Answer
from membergate.api.models import RequestLog

Action = RequestLog.Action
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def _respond(answer: Answer, call: pipeline.Call) -> HttpResponse:
    response = HttpResponse(
        json.dumps(answer.payload),
        status=answer.status,
        content_type="application/json",
    )
    for name, value in answer.headers.items():
        response[name] = value
    response["X-Request-ID"] = call.request_id
    return response


def _endpoint(allowed: dict[str, str]) -> Callable[..., HttpResponse]:
    def view(request: HttpRequest) -> HttpResponse:
        answer, call = pipeline.serve(request, allowed)
        return _respond(answer, call)

    return view


def _member_endpoint(allowed: dict[str, str]) -> Callable[..., HttpResponse]:
    def view(request: HttpRequest, member_id: str) -> HttpResponse:
        answer, call = pipeline.serve(request, allowed, member_id)
        return _respond(answer, call)

    return view


def _unknown_endpoint(request: HttpRequest, rest: str) -> HttpResponse:
    answer, call = pipeline.serve(request, dict.fromkeys(METHODS, Action.OTHER))
    return _respond(answer, call)


CREATE = {"POST": Action.CREATE_MEMBER, "PUT": Action.CREATE_MEMBER}
ROUTES: list[tuple[str, dict[str, str], dict[str, dict[str, Any]]]] = [
    (
        "/members/add-membership",
        {"POST": Action.ADD_MEMBERSHIP, "PUT": Action.ADD_MEMBERSHIP},
        {
            method: openapi.change(
                "Grant memberships to a member",
                "Grants the membership(s) to the member with this email; "
                "active ones stay as they are.",
                creates=False,
            )
            for method in ("POST", "PUT")
        },
    ),
    (
        "/members/remove-membership",
        {"POST": Action.REMOVE_MEMBERSHIP, "PUT": Action.REMOVE_MEMBERSHIP},
        {
            method: openapi.change(
                "Revoke memberships from a member",
                "Revokes the membership(s) of the member with this email.",
                creates=False,
            )
            for method in ("POST", "PUT")
        },
    ),
    (
        "/members",
        {"GET": Action.LIST_MEMBERS, **CREATE},
        {
            "GET": openapi.LIST_MEMBERS,
            **{
                method: openapi.change(
                    "Create a member",
                    "Creates the member with the given memberships (201), or "
                    "grants them to the existing member with that email (200).",
                    creates=True,
                )
                for method in ("POST", "PUT")
            },
        },
    ),
    (
        "/members/{member_id}",
        {"GET": Action.GET_MEMBER},
        {"GET": openapi.GET_MEMBER},
    ),
    (
        "/memberships",
        {"GET": Action.LIST_MEMBERSHIPS},
        {"GET": openapi.LIST_MEMBERSHIPS},
    ),
]


def _route_name(path: str) -> str:
    """Name a route after its path, e.g. members_add_membership.

    The name is the `action` label of the request metrics; left to
    django-ninja, every route would be named after the shared view function.
    """
    name = path.strip("/").replace("{member_id}", "id")
    return name.replace("/", "_").replace("-", "_")


def _build_router() -> Router:
    router = Router()
    for path, allowed, documented in ROUTES:
        make = _member_endpoint if "{member_id}" in path else _endpoint
        view = make(allowed)
        name = _route_name(path)
        for method, extra in documented.items():
            router.add_api_operation(
                path,
                [method],
                view,
                operation_id=f"{method.lower()}_{path.strip('/').replace('/', '_')}",
                openapi_extra=extra,
                url_name=name,
            )
        hidden = [m for m in METHODS if m not in documented]
        router.add_api_operation(
            path, hidden, view, include_in_schema=False, url_name=name
        )
        router.add_api_operation(
            path + "/", METHODS, view, include_in_schema=False, url_name=name
        )
    # Anything else under the base URL: a logged 404 in the API's own shape.
    router.add_api_operation(
        "/{path:rest}",
        METHODS,
        _unknown_endpoint,
        include_in_schema=False,
        url_name="unknown_endpoint",
    )
    return router


class _Api(NinjaAPI):
    def get_openapi_schema(
        self,
        *,
        path_prefix: str | None = None,
        path_params: dict[str, Any] | None = None,
    ) -> OpenAPISchema:
        schema = super().get_openapi_schema(
            path_prefix=path_prefix, path_params=path_params
        )
        schema["components"]["securitySchemes"] = openapi.SECURITY_SCHEMES
        return schema


def build_api(namespace: str, *, docs: bool) -> NinjaAPI:
    api = _Api(
        title="Membergate incoming API",
        version="1",
        description=(
            "Create members and grant or revoke their memberships from "
            "Zapier, Make, Pabbly Connect, n8n or your own code. Compatible "
            "with OptimizeMentor's Incoming API."
        ),
        urls_namespace=namespace,
        docs_url="/docs" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    api.add_router("", _build_router())
    return api


api = build_api("api-v1", docs=True)
opm_alias = build_api("opm-api-v1", docs=False)
