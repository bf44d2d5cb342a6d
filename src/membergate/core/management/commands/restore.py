from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from membergate.core.backups import BackupError, restore
from membergate.core.datadir import DataDirInUse, exclusive_lock
from membergate.core.management.commands.backup import require_sqlite


class Command(BaseCommand):
    help = "Replace the embedded database with the backup at PATH."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("path", type=Path, help="a file made by `backup`")

    def handle(self, *args: Any, path: Path, **options: Any) -> None:
        live = require_sqlite("pg_restore")
        connection.close()
        try:
            with exclusive_lock():
                aside = restore(path.resolve(), live)
        except DataDirInUse:
            raise CommandError(
                "Membergate is running on this data dir: stop every serve and "
                "worker first"
            ) from None
        except BackupError as exc:
            raise CommandError(f"{exc}; nothing was changed") from None
        self.stdout.write(f"Restored the database from {path}.")
        if aside is not None:
            self.stdout.write(f"The database it replaced is kept at {aside}.")
