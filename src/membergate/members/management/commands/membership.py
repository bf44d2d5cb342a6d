from argparse import ArgumentParser
from datetime import datetime, time
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from membergate.members.models import Membership
from membergate.members.services import active_member_counts


def _parse_duration(text: str) -> dict[str, Any]:
    """`lifetime`, `30 days`, `6 months`, `1 year` or `until 2027-01-31`."""
    words = text.strip().lower().split()
    if words == ["lifetime"]:
        return {"duration": Membership.Duration.LIFETIME}
    if len(words) == 2 and words[0] == "until":
        try:
            day = datetime.strptime(words[1], "%Y-%m-%d").date()
        except ValueError:
            raise CommandError("a date must look like 2027-01-31") from None
        ends = timezone.make_aware(datetime.combine(day, time.max))
        return {"duration": Membership.Duration.UNTIL, "ends_at": ends}
    if len(words) == 2 and words[0].isdigit() and int(words[0]) >= 1:
        unit = words[1] if words[1].endswith("s") else words[1] + "s"
        if unit in Membership.COUNTED:
            return {"duration": unit, "duration_count": int(words[0])}
    raise CommandError(
        "--duration must be 'lifetime', a number of days, weeks, months or "
        "years ('30 days'), or 'until YYYY-MM-DD'"
    )


class Command(BaseCommand):
    help = "Create or list memberships."

    def add_arguments(self, parser: ArgumentParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="create a membership, print its id")
        create.add_argument("--title", required=True)
        create.add_argument("--duration", default="lifetime")
        actions.add_parser("list", help="ids, titles and active member counts")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        if action == "create":
            title = options["title"].strip()
            if not title:
                raise CommandError("--title must not be empty")
            if len(title) > 200:
                raise CommandError("--title must be at most 200 characters")
            membership = Membership.objects.create(
                title=title, **_parse_duration(options["duration"])
            )
            self.stdout.write(
                f"Created membership {membership.title!r} "
                f"({membership.describe_duration()}) with id:"
            )
            self.stdout.write(str(membership.pk))
        else:
            self.list()

    def list(self) -> None:
        memberships = list(Membership.objects.all())
        counts = active_member_counts()
        if not memberships:
            self.stdout.write("No memberships.")
            return
        self.stdout.write(f"{'ID':>6}  {'TITLE':<32} {'DURATION':<18} {'ACTIVE':>7}")
        for m in memberships:
            title = m.title + (" (archived)" if m.is_archived else "")
            self.stdout.write(
                f"{m.pk:>6}  {title:<32} {m.describe_duration():<18} "
                f"{counts.get(m.pk, 0):>7}"
            )
