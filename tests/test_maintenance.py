from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from membergate.core import maintenance
from membergate.core.jobs import prune_task_results
from membergate.mail.tasks import send_delivery


@pytest.fixture
def own_jobs(monkeypatch, db):
    jobs: list[maintenance.Job] = []
    monkeypatch.setattr(maintenance, "JOBS", jobs)
    return jobs


def test_a_job_can_run_every_few_seconds(own_jobs):
    runs = []
    maintenance.periodic(seconds=15)(lambda: runs.append(1))

    for now in [1000.0, 1005.0, 1014.9, 1015.0, 1020.0, 1030.0]:
        maintenance.run_due_jobs(now)

    assert len(runs) == 3  # at 1000, 1015 and 1030


def test_a_job_needs_a_positive_interval():
    with pytest.raises(ValueError, match="positive interval"):
        maintenance.periodic()


def test_a_failing_job_does_not_stop_the_others(own_jobs, caplog):
    runs = []

    def broken() -> None:
        raise RuntimeError("nope")

    maintenance.periodic(minutes=1)(broken)
    maintenance.periodic(minutes=1)(lambda: runs.append(1))
    maintenance.run_due_jobs(0.0)

    assert runs == [1]
    assert "maintenance job" in caplog.text


def make_task(status: str, finished_days_ago: float | None) -> str:
    result = send_delivery.enqueue(1)
    finished_at = (
        None
        if finished_days_ago is None
        else timezone.now() - timedelta(days=finished_days_ago)
    )
    DBTaskResult.objects.filter(id=result.id).update(
        status=status, finished_at=finished_at
    )
    return str(result.id)


@pytest.mark.django_db
def test_it_prunes_finished_task_results_older_than_the_limit_in_batches(settings):
    settings.TASK_RESULT_DAYS = 3
    old = [make_task("SUCCESSFUL", 5) for _ in range(5)] + [make_task("FAILED", 4)]
    kept = [
        make_task("SUCCESSFUL", 1),
        make_task("FAILED", 2.9),
        make_task("READY", None),
        make_task("RUNNING", None),
    ]

    deleted = prune_task_results(batch=2)

    assert deleted == len(old)
    remaining = {str(i) for i in DBTaskResult.objects.values_list("id", flat=True)}
    assert remaining == set(kept)
    assert prune_task_results(batch=2) == 0
