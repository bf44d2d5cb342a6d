import io
import json
import logging
import re

import httpx
import pytest
from django.contrib.auth.tokens import default_token_generator
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import include, path
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from membergate.core.logs import JsonFormatter, RequestIdFilter
from membergate.members.models import Member
from tests.service import Service


def explode(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("the view broke")


urlpatterns = [
    path("api/v1/explode", explode, name="explode_api"),
    path("account/explode", explode, name="explode_page"),
    path("", include("membergate.urls")),
]
handler500 = "membergate.core.views.server_error"

pytestmark = pytest.mark.django_db

GENERATED_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def json_log():
    """What the service writes with LOG_FORMAT=json, one parsed dict a line."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)

    def read() -> list[dict[str, object]]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield read
    root.removeHandler(handler)


def test_it_gives_each_request_its_own_id(client):
    first = client.get("/health").headers["X-Request-ID"]
    second = client.get("/health").headers["X-Request-ID"]
    assert GENERATED_ID.fullmatch(first)
    assert GENERATED_ID.fullmatch(second)
    assert first != second


@pytest.mark.parametrize(
    "incoming", ["lb-7f3a:2.1_x", "0f8e7bd4-86b4-4b7e-9a53-2c5f1d2b8c11", "a" * 64]
)
def test_it_keeps_a_plain_incoming_id(client, incoming):
    answer = client.get("/health", headers={"X-Request-ID": incoming})
    assert answer.headers["X-Request-ID"] == incoming


@pytest.mark.parametrize(
    "incoming", ["a" * 65, "two words", "<script>", "caf\u00e9", "id\nforged line"]
)
def test_it_replaces_an_incoming_id_that_is_not_plain(client, incoming):
    answer = client.get("/health", headers={"X-Request-ID": incoming})
    assert GENERATED_ID.fullmatch(answer.headers["X-Request-ID"])


def test_it_logs_one_line_per_request_without_the_query_string(client, json_log):
    answer = client.get(
        "/health?opm_api_key=mg_secret_in_the_query",
        headers={"X-Request-ID": "req-one"},
    )

    lines = [line for line in json_log() if line["logger"] == "membergate.requests"]
    assert len(lines) == 1
    line = lines[0]
    assert line["level"] == "info"
    assert line["message"].startswith("GET /health 200 ")
    assert (line["method"], line["path"], line["status"]) == ("GET", "/health", 200)
    assert line["action"] == "health"
    assert isinstance(line["duration_ms"], float)
    assert line["client"] == "127.0.0.1"
    assert line["message"].endswith(" from 127.0.0.1")
    assert line["request_id"] == answer.headers["X-Request-ID"] == "req-one"
    assert "mg_secret_in_the_query" not in json.dumps(json_log())


def test_it_logs_the_set_password_link_without_its_token(client, json_log):
    member = Member.objects.create_user("new@example.com")
    uid = urlsafe_base64_encode(force_bytes(member.pk))
    token = default_token_generator.make_token(member)
    link = f"/account/set-password/{uid}/{token}"

    client.get(f"{link}/", follow=True)  # the link, then Django's next step
    client.get(link)  # the trailing slash lost by a mail client: a redirect
    client.get(f"{link}/extra")  # something appended to it: a 404

    lines = [e for e in json_log() if e["logger"] == "membergate.requests"]
    masked = f"/account/set-password/{uid}/[token]"
    assert [(e["path"], e["status"]) for e in lines] == [
        (f"{masked}/", 302),
        (f"/account/set-password/{uid}/set-password/", 200),
        (masked, 301),
        (f"{masked}/extra", 404),
    ]
    assert token not in json.dumps(json_log())


def test_it_logs_a_404_with_its_path_and_id(client, json_log):
    answer = client.get("/no/such/page")
    (line,) = [e for e in json_log() if e["logger"] == "membergate.requests"]
    assert (line["path"], line["status"]) == ("/no/such/page", 404)
    assert line["action"] == "unmatched"
    assert line["request_id"] == answer.headers["X-Request-ID"]


@pytest.mark.urls(__name__)
def test_a_500_on_the_api_answers_json_with_the_id_that_is_in_the_log(json_log):
    client = Client(raise_request_exception=False)
    answer = client.get("/api/v1/explode?opm_api_key=mg_secret_in_the_query")

    request_id = answer.headers["X-Request-ID"]
    assert answer.status_code == 500
    assert answer["Content-Type"] == "application/json"
    body = answer.json()
    assert body["code"] == "internal_error"
    assert request_id in body["message"]
    assert body["data"] == {"status": 500, "request_id": request_id}

    errors = [line for line in json_log() if line["level"] == "error"]
    assert len(errors) == 1
    assert errors[0]["request_id"] == request_id
    assert "RuntimeError: the view broke" in errors[0]["exception"]
    assert "Traceback" in errors[0]["exception"]
    access = [e for e in json_log() if e["logger"] == "membergate.requests"]
    assert [(e["status"], e["request_id"]) for e in access] == [(500, request_id)]
    assert "mg_secret_in_the_query" not in json.dumps(json_log())


@pytest.mark.urls(__name__)
def test_a_500_on_a_page_answers_a_plain_page_with_the_id(json_log):
    client = Client(raise_request_exception=False)
    answer = client.get("/account/explode")

    request_id = answer.headers["X-Request-ID"]
    assert answer.status_code == 500
    assert answer["Content-Type"].startswith("text/html")
    assert f"quote this id: {request_id}" in answer.content.decode()
    errors = [line for line in json_log() if line["level"] == "error"]
    assert [e["request_id"] for e in errors] == [request_id]


def test_text_logs_carry_the_request_id(client, caplog):
    handler_stream = io.StringIO()
    handler = logging.StreamHandler(handler_stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(logging.Formatter("[%(request_id)s] %(message)s"))
    logging.getLogger().addHandler(handler)
    try:
        client.get("/health", headers={"X-Request-ID": "text-id"})
        logging.getLogger("membergate.test").info("outside any request")
    finally:
        logging.getLogger().removeHandler(handler)
    lines = handler_stream.getvalue().splitlines()
    assert any(line.startswith("[text-id] GET /health 200") for line in lines)
    assert "[-] outside any request" in lines


@pytest.mark.slow
def test_the_running_service_writes_json_lines_with_the_request_id(tmp_path):
    with Service(tmp_path / "data", LOG_FORMAT="json") as service:
        service.start()
        answer = httpx.get(
            f"{service.base_url}/health?token=hidden-value",
            headers={"X-Request-ID": "from-the-proxy"},
        )
        assert answer.headers["X-Request-ID"] == "from-the-proxy"
        service.stop()
        log = service.read_log()

    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    matching = [line for line in lines if line.get("request_id") == "from-the-proxy"]
    assert len(matching) == 1
    assert (matching[0]["path"], matching[0]["status"]) == ("/health", 200)
    assert "hidden-value" not in log


def test_a_failing_api_call_quotes_the_id_of_its_log_lines(
    client, api_key, json_log, monkeypatch
):
    from membergate.api import actions
    from membergate.api.models import RequestLog

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(actions, "grant_memberships", broken)
    answer = client.post(
        "/api/v1/members",
        {"email": "ada@example.com"},
        headers={"X-API-Key": api_key[1], "X-Request-ID": "zap-42"},
    )

    assert answer.status_code == 500
    assert answer.headers["X-Request-ID"] == "zap-42"
    body = answer.json()
    assert body["code"] == "internal_error"
    assert "zap-42" in body["message"]
    assert body["data"] == {"status": 500, "request_id": "zap-42"}
    assert RequestLog.objects.get().request_id == "zap-42"
    errors = [line for line in json_log() if line["level"] == "error"]
    assert errors
    assert {e["request_id"] for e in errors} == {"zap-42"}
    tracebacks = [e["exception"] for e in errors if "exception" in e]
    assert len(tracebacks) == 1
    assert "RuntimeError: the database went away" in tracebacks[0]
