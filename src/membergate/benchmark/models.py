"""The one table the write-ceiling endpoint inserts into."""

from typing import ClassVar

from django.db import models
from django.utils import timezone


class Probe(models.Model):
    created_at = models.DateTimeField(default=timezone.now)
    value = models.CharField(max_length=200)

    # Declared, since the app is installed only with the benchmark endpoints
    # on and the type checker runs without them.
    objects: ClassVar[models.Manager["Probe"]] = models.Manager()

    def __str__(self) -> str:
        return self.value
