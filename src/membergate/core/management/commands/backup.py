from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from membergate.core.backups import BackupError, back_up


def require_sqlite(instead: str) -> Path:
    """Return the embedded database's path, or stop: PostgreSQL has its tools."""
    if connection.vendor != "sqlite":
        raise CommandError(
            f"the database is PostgreSQL: use {instead} (see docs/deploy.md)",
            returncode=2,
        )
    return Path(str(connection.settings_dict["NAME"]))


class Command(BaseCommand):
    help = "Copy the embedded database to PATH, safely while the service runs."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("path", type=Path, help="the new backup file")

    def handle(self, *args: Any, path: Path, **options: Any) -> None:
        live = require_sqlite("pg_dump")
        try:
            size = back_up(live, path.resolve())
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Backed up the database to {path} ({size} bytes).")
