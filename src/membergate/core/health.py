"""The checks behind /ready: can this server do its work right now?"""

from datetime import timedelta

from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from membergate.core.models import WorkerHeartbeat

# Workers beat every 15 seconds; four missed beats mean none is working.
HEARTBEAT_STALE_AFTER = timedelta(seconds=60)


def unapplied_migrations() -> int:
    """How many of this release's migrations the database still lacks."""
    executor = MigrationExecutor(connection)
    return len(executor.migration_plan(executor.loader.graph.leaf_nodes()))


def check_readiness() -> dict[str, str]:
    """Return each check's outcome: "ok", or what is wrong.

    The checks after the database's are skipped when it does not answer.
    """
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return {"database": "the database does not answer"}
    checks = {"database": "ok"}

    unapplied = unapplied_migrations()
    checks["migrations"] = f"{unapplied} not applied" if unapplied else "ok"

    latest = (
        WorkerHeartbeat.objects.order_by("-beat_at")
        .values_list("beat_at", flat=True)
        .first()
    )
    if latest is None:
        checks["worker"] = "no background worker has ever run"
    elif timezone.now() - latest > HEARTBEAT_STALE_AFTER:
        seconds = int((timezone.now() - latest).total_seconds())
        checks["worker"] = f"no background worker seen for {seconds} s"
    else:
        checks["worker"] = "ok"
    return checks
