"""Members, memberships and the grants that join them."""

import calendar
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from django.contrib.auth.models import (
    AbstractBaseUser,
    BaseUserManager,
    PermissionsMixin,
)
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Q
from django.db.models.functions import Lower
from django.db.models.sql.compiler import SQLCompiler
from django.utils import timezone

from membergate.members.emails import InvalidEmail, normalize_email

if TYPE_CHECKING:
    from membergate.apikeys.models import ApiKey


class IsPrintableAscii(models.Func):
    """True where a text holds only printable ASCII characters.

    Neither database has one spelling for it, and a regular expression would
    need Django's own REGEXP function on SQLite, which a plain ``sqlite3``
    session lacks: each database gets its native pattern match.
    """

    output_field = models.BooleanField()
    arity = 1

    def as_sqlite(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> tuple[str, tuple[str | int, ...]]:
        return self.as_sql(
            compiler, connection, template="(%(expressions)s NOT GLOB '*[^ -~]*')"
        )

    def as_postgresql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> tuple[str, tuple[str | int, ...]]:
        return self.as_sql(
            compiler, connection, template="(%(expressions)s ~ '^[ -~]*$')"
        )


class MemberManager(BaseUserManager["Member"]):
    use_in_migrations = True

    def create_user(
        self, email: str, password: str | None = None, **fields: object
    ) -> "Member":
        member = self.model(email=normalize_email(email), **fields)
        member.set_password(password)
        member.save(using=self._db)
        return member

    def create_superuser(
        self, email: str, password: str | None = None, **fields: object
    ) -> "Member":
        fields.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)

    def get_by_natural_key(self, username: str | None) -> "Member":
        try:
            email = normalize_email(username or "")
        except InvalidEmail:
            raise self.model.DoesNotExist from None
        return self.get(email=email)


class Member(AbstractBaseUser, PermissionsMixin):
    """A person with an account, found by email.

    Site owners are members too, with ``is_staff`` set.
    """

    email = models.EmailField("email", max_length=254, unique=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(
        "site owner", default=False, help_text="May sign in to the admin."
    )
    date_joined = models.DateTimeField(default=timezone.now)

    objects: ClassVar[MemberManager] = MemberManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        constraints = [
            # Together with the unique index this makes addresses unique
            # case-insensitively, for every writer, not only the ORM.
            models.CheckConstraint(
                condition=Q(email=Lower("email")), name="member_email_lower_case"
            ),
            # Lower case means the same to Python and both databases only in
            # ASCII, which is all normalize_email stores: outside it, 'Ä' and
            # 'ä' could sit side by side.
            models.CheckConstraint(
                condition=IsPrintableAscii("email"), name="member_email_ascii"
            ),
        ]

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_short_name(self) -> str:
        return self.first_name


class MembershipQuerySet(models.QuerySet["Membership"]):
    def grantable(self) -> "MembershipQuerySet":
        return self.filter(archived_at__isnull=True)


class Membership(models.Model):
    """A tier of access that site owners sell."""

    class Duration(models.TextChoices):
        LIFETIME = "lifetime", "Lifetime"
        DAYS = "days", "Days"
        WEEKS = "weeks", "Weeks"
        MONTHS = "months", "Months"
        YEARS = "years", "Years"
        UNTIL = "until", "Until a fixed date"

    COUNTED = (Duration.DAYS, Duration.WEEKS, Duration.MONTHS, Duration.YEARS)

    title = models.CharField(max_length=200)
    duration = models.CharField(
        "access duration",
        max_length=10,
        choices=Duration.choices,
        default=Duration.LIFETIME,
    )
    duration_count = models.PositiveIntegerField(
        "number of days, weeks, months or years", null=True, blank=True
    )
    ends_at = models.DateTimeField("access ends at", null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(duration__in=["days", "weeks", "months", "years"])
                    # Spelled out: a NULL count would make `>= 1` unknown,
                    # which a CHECK lets through.
                    & Q(duration_count__isnull=False, duration_count__gte=1)
                    & Q(ends_at__isnull=True)
                )
                | Q(
                    duration="until", duration_count__isnull=True, ends_at__isnull=False
                )
                | Q(
                    duration="lifetime",
                    duration_count__isnull=True,
                    ends_at__isnull=True,
                ),
                name="membership_duration_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} (#{self.pk})"

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    def describe_duration(self) -> str:
        if self.duration == self.Duration.LIFETIME:
            return "lifetime"
        if self.duration == self.Duration.UNTIL:
            assert self.ends_at is not None
            return f"until {self.ends_at:%Y-%m-%d}"
        unit = self.duration.removesuffix("s")
        plural = "" if self.duration_count == 1 else "s"
        return f"{self.duration_count} {unit}{plural}"

    def expires_at_for(self, granted_at: datetime) -> datetime | None:
        """When a grant made at ``granted_at`` stops giving access."""
        count = self.duration_count or 0
        match self.duration:
            case self.Duration.LIFETIME:
                return None
            case self.Duration.UNTIL:
                return self.ends_at
            case self.Duration.DAYS:
                return granted_at + timedelta(days=count)
            case self.Duration.WEEKS:
                return granted_at + timedelta(weeks=count)
            case self.Duration.MONTHS:
                return _add_months(granted_at, count)
            case self.Duration.YEARS:
                return _add_months(granted_at, 12 * count)
        raise ValueError(f"unknown duration {self.duration!r}")


def _add_months(moment: datetime, months: int) -> datetime:
    """Add calendar months, keeping the day or the month's last day."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


class GrantQuerySet(models.QuerySet["Grant"]):
    def open(self) -> "GrantQuerySet":
        return self.filter(revoked_at__isnull=True)

    def active(self, now: datetime | None = None) -> "GrantQuerySet":
        now = now or timezone.now()
        return self.open().filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))


class Grant(models.Model):
    """A member's hold on a membership, from its grant to its revocation.

    Rows are never deleted: a revoked grant stays as history and a new grant
    makes a new row. At most one grant per member and membership is open.
    """

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="grants")
    membership = models.ForeignKey(
        Membership, on_delete=models.PROTECT, related_name="grants"
    )
    granted_at = models.DateTimeField(default=timezone.now)
    granted_by_key = models.ForeignKey(
        "apikeys.ApiKey",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    granted_by_user = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by_key = models.ForeignKey(
        "apikeys.ApiKey",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    revoked_by_user = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = GrantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["member", "membership"],
                condition=Q(revoked_at__isnull=True),
                name="one_open_grant_per_membership",
            ),
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True)
                | Q(revoked_at__gte=models.F("granted_at")),
                name="grant_revoked_after_granted",
            ),
        ]
        indexes = [
            # Serves the active-member counts per membership.
            models.Index(
                fields=["membership", "expires_at"],
                condition=Q(revoked_at__isnull=True),
                name="grant_open_by_membership",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member} holds {self.membership}"

    def is_active(self, now: datetime | None = None) -> bool:
        now = now or timezone.now()
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > now

    @staticmethod
    def actor_label(key: "ApiKey | None", user: Member | None) -> str:
        if key is not None:
            return f"API key {key.name}"
        if user is not None:
            return f"admin {user.email}"
        return "command line"
