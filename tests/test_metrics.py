from datetime import timedelta

import httpx
import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from prometheus_client.parser import text_string_to_metric_families

from membergate.mail.models import Delivery
from membergate.mail.tasks import send_delivery
from tests.apiclient import Api
from tests.service import Service

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-for-tests"


@pytest.fixture
def token(settings):
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def scrape(client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/plain; version=0.0.4")
    return samples(answer.content.decode())


def test_it_is_not_found_while_no_token_is_set(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics?token=").status_code == 404


@pytest.mark.parametrize(
    ("query", "headers"),
    [
        ("", {}),
        ("?token=wrong", {}),
        ("", {"Authorization": "Bearer wrong"}),
        ("", {"Authorization": f"Basic {TOKEN}"}),
        (f"?token={TOKEN}", {"Authorization": "Bearer wrong"}),
    ],
)
def test_it_refuses_a_missing_or_wrong_token(client, token, query, headers):
    answer = client.get(f"/metrics{query}", headers=headers)
    assert answer.status_code == 401
    assert b"membergate_" not in answer.content


def test_it_takes_the_token_as_bearer_or_in_the_query(client, token):
    assert client.get(f"/metrics?token={TOKEN}").status_code == 200
    bearer = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert bearer.status_code == 200


def test_it_counts_requests_by_route_and_status(client, token):
    key = ("membergate_requests_total", (("action", "health"), ("status", "200")))
    missing = (
        "membergate_requests_total",
        (("action", "unmatched"), ("status", "404")),
    )
    before = scrape(client)
    client.get("/health")
    client.get("/health")
    client.get("/no/such/page?token=x")
    after = scrape(client)

    assert after[key] - before.get(key, 0) == 2
    assert after[missing] - before.get(missing, 0) == 1
    count = ("membergate_request_duration_seconds_count", (("action", "health"),))
    assert after[count] - before.get(count, 0) == 2


def test_api_calls_are_counted_by_route_and_status(client, token, api, make_membership):
    gold = make_membership("Gold")
    created = ("membergate_requests_total", (("action", "members"), ("status", "201")))
    refused = (
        "membergate_requests_total",
        (("action", "memberships"), ("status", "401")),
    )
    bucket = (
        "membergate_request_duration_seconds_bucket",
        (("action", "members"), ("le", "+Inf")),
    )
    before = scrape(client)

    answer = api.post(
        "/members", json={"email": "ada@example.com", "memberships": [gold.id]}
    )
    assert answer.status_code == 201
    assert Api("mg_wrong").get("/memberships").status_code == 401
    after = scrape(client)

    assert after[created] - before.get(created, 0) == 1
    assert after[refused] - before.get(refused, 0) == 1
    assert after[bucket] - before.get(bucket, 0) == 1
    # Each route has its own label: all under one name, a slow route would
    # hide among fast ones.
    actions = {dict(labels).get("action") for _, labels in after}
    assert {"members", "memberships"} <= actions
    assert "view" not in actions


def test_it_reports_the_task_queue_and_its_oldest_waiting_task(client, token):
    quiet = scrape(client)
    assert quiet[("membergate_task_queue_depth", ())] == 0
    assert quiet[("membergate_task_oldest_waiting_seconds", ())] == 0

    send_delivery.enqueue(1)
    send_delivery.enqueue(2)
    done = send_delivery.enqueue(3)
    DBTaskResult.objects.filter(id=done.id).update(status="SUCCESSFUL")
    DBTaskResult.objects.exclude(id=done.id).update(
        enqueued_at=timezone.now() - timedelta(minutes=5)
    )

    busy = scrape(client)
    assert busy[("membergate_task_queue_depth", ())] == 2
    assert 300 <= busy[("membergate_task_oldest_waiting_seconds", ())] < 360


def test_it_reports_deliveries_by_status(client, token):
    for status in ["queued", "queued", "sent", "failed"]:
        Delivery.objects.create(kind="welcome", to_email="a@example.com", status=status)
    found = scrape(client)
    by_status = {
        status: found[("membergate_deliveries", (("status", status),))]
        for status in Delivery.Status.values
    }
    assert by_status == {"queued": 2, "sending": 0, "sent": 1, "failed": 1}


@pytest.mark.slow
def test_counts_add_up_across_the_server_processes(tmp_path):
    with Service(tmp_path / "data", MEMBERGATE_METRICS_TOKEN=TOKEN) as service:
        service.start("--workers", "2")
        for _ in range(40):
            # A new connection each time, so both processes take requests.
            with httpx.Client(base_url=service.base_url) as client:
                assert client.get("/no/such/page").status_code == 404

        key = (
            "membergate_requests_total",
            (("action", "unmatched"), ("status", "404")),
        )
        seen = set()
        for _ in range(6):
            with httpx.Client(base_url=service.base_url) as client:
                answer = client.get("/metrics", params={"token": TOKEN})
            seen.add(samples(answer.text)[key])
        # Whichever process answers the scrape, it reports every process's
        # count.
        assert seen == {40}
        counted_by = list((tmp_path / "data" / "metrics" / str(service.port)).iterdir())
        assert counted_by, "no process wrote its counts to the metrics directory"
