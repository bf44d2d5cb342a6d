"""The database refuses an open grant of an archived membership.

A trigger rather than a CHECK: the rule reads another table. It fires when
a grant is inserted open, re-opened, or moved to another membership while
open; archiving a membership touches no grant, so members keep what they
hold, and revoking a grant of an archived membership stays allowed.

SQLite drops a table's triggers with the table: a later migration that
makes Django rebuild ``members_grant`` on SQLite must create them again
(tests/test_grants.py fails if it does not).
"""

from typing import Any

from django.db import migrations

# The grant services recognize the error's text, "membership is archived
# and cannot be granted": keep it as it is.
SQLITE = [
    """
    CREATE TRIGGER members_grant_insert_not_archived
    BEFORE INSERT ON members_grant
    FOR EACH ROW WHEN NEW.revoked_at IS NULL AND EXISTS (
        SELECT 1 FROM members_membership
        WHERE id = NEW.membership_id AND archived_at IS NOT NULL
    )
    BEGIN SELECT RAISE(ABORT, 'membership is archived and cannot be granted'); END
    """,
    """
    CREATE TRIGGER members_grant_update_not_archived
    BEFORE UPDATE OF revoked_at, membership_id ON members_grant
    FOR EACH ROW WHEN NEW.revoked_at IS NULL
    AND (OLD.revoked_at IS NOT NULL OR NEW.membership_id IS NOT OLD.membership_id)
    AND EXISTS (
        SELECT 1 FROM members_membership
        WHERE id = NEW.membership_id AND archived_at IS NOT NULL
    )
    BEGIN SELECT RAISE(ABORT, 'membership is archived and cannot be granted'); END
    """,
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS members_grant_insert_not_archived",
    "DROP TRIGGER IF EXISTS members_grant_update_not_archived",
]

POSTGRESQL = [
    # The id goes into the message so the service can name it; the error
    # code makes psycopg raise an IntegrityError, like a CHECK would.
    """
    CREATE FUNCTION members_grant_refuse_archived() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (
            SELECT 1 FROM members_membership
            WHERE id = NEW.membership_id AND archived_at IS NOT NULL
        ) THEN
            RAISE EXCEPTION
                'membership is archived and cannot be granted: %',
                NEW.membership_id
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END
    $$
    """,
    """
    CREATE TRIGGER members_grant_insert_not_archived
    BEFORE INSERT ON members_grant
    FOR EACH ROW WHEN (NEW.revoked_at IS NULL)
    EXECUTE FUNCTION members_grant_refuse_archived()
    """,
    """
    CREATE TRIGGER members_grant_update_not_archived
    BEFORE UPDATE OF revoked_at, membership_id ON members_grant
    FOR EACH ROW WHEN (
        NEW.revoked_at IS NULL
        AND (
            OLD.revoked_at IS NOT NULL
            OR NEW.membership_id IS DISTINCT FROM OLD.membership_id
        )
    )
    EXECUTE FUNCTION members_grant_refuse_archived()
    """,
]
POSTGRESQL_REVERSE = [
    "DROP TRIGGER IF EXISTS members_grant_update_not_archived ON members_grant",
    "DROP TRIGGER IF EXISTS members_grant_insert_not_archived ON members_grant",
    "DROP FUNCTION IF EXISTS members_grant_refuse_archived()",
]

_FORWARD = {"sqlite": SQLITE, "postgresql": POSTGRESQL}
_REVERSE = {"sqlite": SQLITE_REVERSE, "postgresql": POSTGRESQL_REVERSE}


def _run(statements: dict[str, list[str]], schema_editor: Any) -> None:
    vendor = schema_editor.connection.vendor
    if vendor not in statements:
        raise NotImplementedError(f"no grant triggers for {vendor}")
    for sql in statements[vendor]:
        schema_editor.execute(sql, params=None)


def create_triggers(apps: Any, schema_editor: Any) -> None:
    _run(_FORWARD, schema_editor)


def drop_triggers(apps: Any, schema_editor: Any) -> None:
    _run(_REVERSE, schema_editor)


class Migration(migrations.Migration):
    dependencies = [("members", "0001_initial")]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]
