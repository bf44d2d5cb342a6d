import subprocess
import time
from datetime import timedelta

import httpx
import pytest
from django.db import OperationalError, connection, connections
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from membergate.core import jobs
from membergate.core.models import WorkerHeartbeat
from tests.service import MEMBERGATE, Service

pytestmark = pytest.mark.django_db


def test_it_is_ready_when_a_worker_beat_recently(client):
    jobs.beat()
    answer = client.get("/ready")
    assert answer.status_code == 200
    assert answer.json() == {
        "status": "ok",
        "checks": {"database": "ok", "migrations": "ok", "worker": "ok"},
    }


def test_it_is_not_ready_before_any_worker_ran(client):
    answer = client.get("/ready")
    assert answer.status_code == 503
    body = answer.json()
    assert body["failed"] == ["worker"]
    assert body["checks"]["worker"] == "no background worker has ever run"
    assert body["checks"]["database"] == "ok"


def test_it_is_not_ready_when_the_last_heartbeat_is_old(client):
    WorkerHeartbeat.objects.create(
        worker="gone:1", beat_at=timezone.now() - timedelta(minutes=2)
    )
    answer = client.get("/ready")
    assert answer.status_code == 503
    assert answer.json()["failed"] == ["worker"]
    assert answer.json()["checks"]["worker"].startswith(
        "no background worker seen for 1"
    )


def test_it_is_not_ready_while_a_migration_is_unapplied(client):
    jobs.beat()
    MigrationRecorder(connection).record_unapplied("core", "0001_worker_heartbeat")
    answer = client.get("/ready")
    assert answer.status_code == 503
    assert answer.json()["failed"] == ["migrations"]
    assert answer.json()["checks"]["migrations"] == "1 not applied"


@pytest.fixture
def database_down(monkeypatch):
    """Every new cursor fails, as when the database server has gone away."""

    def refuse(*args: object) -> None:
        raise OperationalError("connection to server at 127.0.0.1 refused")

    monkeypatch.setattr(type(connections["default"]), "cursor", refuse)


def test_health_answers_503_while_the_database_is_down(client, database_down):
    answer = client.get("/health")
    assert answer.status_code == 503
    assert answer.json() == {"status": "error", "database": "unreachable"}


def test_it_is_not_ready_while_the_database_is_down(client, database_down):
    answer = client.get("/ready")
    assert answer.status_code == 503
    assert answer.json() == {
        "status": "error",
        "failed": ["database"],
        "checks": {"database": "the database does not answer"},
    }


def test_a_worker_keeps_one_heartbeat_row_up_to_date():
    jobs.beat()
    first = WorkerHeartbeat.objects.get().beat_at
    jobs.beat()
    assert WorkerHeartbeat.objects.get().beat_at > first


def test_heartbeats_of_workers_gone_for_a_day_are_forgotten():
    WorkerHeartbeat.objects.create(
        worker="old:1", beat_at=timezone.now() - timedelta(days=2)
    )
    jobs.beat()
    jobs.forget_departed_workers()
    assert list(WorkerHeartbeat.objects.values_list("worker", flat=True)) == [
        jobs.worker_name()
    ]


@pytest.mark.slow
def test_a_started_service_becomes_ready_and_health_stays_cheap(tmp_path):
    with Service(tmp_path / "data") as service:
        service.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            answer = httpx.get(f"{service.base_url}/ready")
            if answer.status_code == 200:
                break
            time.sleep(0.5)
        assert answer.status_code == 200, answer.text
        assert answer.json()["checks"]["worker"] == "ok"
        assert httpx.get(f"{service.base_url}/health").json() == {"status": "ok"}


@pytest.mark.slow
def test_a_server_without_any_worker_is_not_ready(tmp_path):
    with Service(tmp_path / "data") as service:
        service.start("--no-worker")
        answer = httpx.get(f"{service.base_url}/ready")
        assert answer.status_code == 503
        assert answer.json()["failed"] == ["worker"]


@pytest.mark.slow
def test_a_worker_started_before_the_first_server_waits_for_its_migrations(
    tmp_path,
):
    with Service(tmp_path / "data") as service:
        log = tmp_path / "worker.log"
        worker = subprocess.Popen(
            [MEMBERGATE, "worker"], env=service.env, stderr=log.open("w")
        )
        try:
            deadline = time.monotonic() + 60
            while "waiting for" not in log.read_text():
                assert worker.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)

            service.start("--no-worker")
            deadline = time.monotonic() + 60
            while (answer := httpx.get(f"{service.base_url}/ready")).status_code != 200:
                assert worker.poll() is None, log.read_text()
                assert time.monotonic() < deadline, answer.text
                time.sleep(0.5)
        finally:
            worker.terminate()
            worker.wait(30)
    assert "Traceback" not in log.read_text()
