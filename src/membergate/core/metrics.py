"""Prometheus metrics, served at /metrics.

Request counts and latencies are counted in memory by each process. A server
runs several granian worker processes, so counters use prometheus-client's
multiprocess mode: `serve` gives its workers one directory under the data
dir (PROMETHEUS_MULTIPROC_DIR) and each process writes its counts there;
/metrics adds them up. Counting from the database instead would add a write
to every request. Each server therefore reports its own requests, and
Prometheus adds servers up: scrape every server directly, not through the
load balancer. Queue and delivery figures are read from the shared database
at scrape time, so every server reports the same, site-wide values.
"""

import os
from collections.abc import Iterator

from django.db.models import Count, Min
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from membergate.mail.models import Delivery

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_requests_registry = CollectorRegistry()
REQUESTS = Counter(
    "membergate_requests",
    "HTTP requests answered, by route name and status code.",
    ["action", "status"],
    registry=_requests_registry,
)
LATENCY = Histogram(
    "membergate_request_duration_seconds",
    "Time from receiving a request to handing over its answer, by route name.",
    ["action"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=_requests_registry,
)


def observe_request(action: str, status: int, seconds: float) -> None:
    REQUESTS.labels(action=action, status=str(status)).inc()
    LATENCY.labels(action=action).observe(seconds)


class DatabaseCollector(Collector):
    """Site-wide figures read from the database at each scrape."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        waiting = DBTaskResult.objects.ready()
        depth = GaugeMetricFamily(
            "membergate_task_queue_depth",
            "Background tasks ready to run and not yet picked up.",
        )
        depth.add_metric([], waiting.count())
        yield depth

        oldest = waiting.aggregate(oldest=Min("enqueued_at"))["oldest"]
        age = GaugeMetricFamily(
            "membergate_task_oldest_waiting_seconds",
            "Age of the oldest task ready to run; 0 when none waits.",
        )
        age.add_metric([], (timezone.now() - oldest).total_seconds() if oldest else 0.0)
        yield age

        counts = dict(
            Delivery.objects.order_by()
            .values_list("status")
            .annotate(count=Count("id"))
            .values_list("status", "count")
        )
        deliveries = GaugeMetricFamily(
            "membergate_deliveries",
            "Email deliveries on record, by status.",
            labels=["status"],
        )
        for status in Delivery.Status.values:
            deliveries.add_metric([status], counts.get(status, 0))
        yield deliveries


def render() -> bytes:
    """Return every metric in Prometheus' text format."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        requests = CollectorRegistry()
        MultiProcessCollector(requests)  # type: ignore[no-untyped-call]
    else:
        requests = _requests_registry
    database = CollectorRegistry(auto_describe=False)
    database.register(DatabaseCollector())
    return generate_latest(requests) + generate_latest(database)
