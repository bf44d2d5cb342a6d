from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from membergate.apikeys.models import ApiKey


class Command(BaseCommand):
    help = "Create, list or revoke API keys."

    def add_arguments(self, parser: ArgumentParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="create a key and print it once")
        create.add_argument("--name", required=True)
        create.add_argument(
            "--rate-limit",
            type=int,
            default=None,
            help="requests a minute this key may make (default: no limit)",
        )
        actions.add_parser("list", help="list keys (never their secrets)")
        revoke = actions.add_parser("revoke", help="revoke a key by name")
        revoke.add_argument("name")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        if action == "create":
            self.create(options["name"].strip(), options["rate_limit"])
        elif action == "list":
            self.list()
        else:
            self.revoke(options["name"])

    def create(self, name: str, rate_limit: int | None) -> None:
        if not name:
            raise CommandError("--name must not be empty")
        if rate_limit is not None and rate_limit < 1:
            raise CommandError("--rate-limit must be at least 1")
        try:
            key, secret = ApiKey.create(name, rate_limit_per_minute=rate_limit)
        except IntegrityError:
            raise CommandError(f"an API key named {name!r} exists already") from None
        self.stdout.write(f"Created API key {key.name!r}. It is shown only now:")
        self.stdout.write(secret)

    def list(self) -> None:
        keys = ApiKey.objects.all()
        if not keys:
            self.stdout.write("No API keys.")
            return
        self.stdout.write(
            f"{'NAME':<24} {'STARTS WITH':<12} {'CREATED':<17} {'LAST USED':<17} STATUS"
        )
        for key in keys:
            self.stdout.write(
                f"{key.name:<24} {key.display_prefix:<12} "
                f"{key.created_at:%Y-%m-%d %H:%M}  "
                f"{f'{key.last_used_at:%Y-%m-%d %H:%M}' if key.last_used_at else 'never':<17} "
                f"{'revoked' if key.is_revoked else 'active'}"
            )

    def revoke(self, name: str) -> None:
        key = ApiKey.objects.filter(name=name).first()
        if key is None:
            raise CommandError(f"no API key is named {name!r}")
        if key.is_revoked:
            self.stdout.write(f"API key {name!r} was revoked already.")
            return
        key.revoke()
        self.stdout.write(f"Revoked API key {name!r}.")
