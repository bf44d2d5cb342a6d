"""What operations keep in the database: the workers' heartbeats."""

from django.db import models


class WorkerHeartbeat(models.Model):
    """The last time a background worker showed it was alive.

    Each worker process writes its own row every few seconds; /ready answers
    503 when no row is recent. Rows of workers gone for a day are deleted.
    """

    worker = models.CharField(max_length=200, unique=True)
    beat_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.worker
