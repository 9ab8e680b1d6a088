"""Entries and transactions can never be updated or deleted: the database itself refuses.

SQLite drops a table's triggers when Django rebuilds the table (an AlterField there copies the
table); a migration that alters these two tables must create the triggers again.
test_append_only.py fails if they are missing.
"""

from django.db import migrations, router
from django.db.utils import NotSupportedError

SQLITE_GUARD_FUNCTION = "ledger_append_only"  # registered on each connection by ledger/db.py

POSTGRESQL_TRIGGERS = [
    """
CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % on % refused; post a reversing transaction instead',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END;
$$;""",
    "CREATE TRIGGER ledger_entry_append_only BEFORE UPDATE OR DELETE ON ledger_entry "
    "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();",
    "CREATE TRIGGER ledger_transaction_append_only BEFORE UPDATE OR DELETE ON ledger_transaction "
    "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();",
]

POSTGRESQL_TRIGGERS_DROP = [
    "DROP TRIGGER IF EXISTS ledger_transaction_append_only ON ledger_transaction;",
    "DROP TRIGGER IF EXISTS ledger_entry_append_only ON ledger_entry;",
    "DROP FUNCTION IF EXISTS ledger_refuse_change();",
]


def _sqlite_triggers(table: str) -> list[str]:
    message = f"the ledger is append-only: %s on {table} refused; post a reversing transaction instead"
    return [
        f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{message % 'UPDATE'}'); END;",
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} WHEN {SQLITE_GUARD_FUNCTION}() "
        f"BEGIN SELECT RAISE(ABORT, '{message % 'DELETE'}'); END;",
    ]


SQLITE_TRIGGERS = _sqlite_triggers("ledger_entry") + _sqlite_triggers("ledger_transaction")
SQLITE_TRIGGERS_DROP = [
    f"DROP TRIGGER IF EXISTS {table}_{op};"
    for table in ("ledger_entry", "ledger_transaction")
    for op in ("no_update", "no_delete")
]

SQL = {"postgresql": (POSTGRESQL_TRIGGERS, POSTGRESQL_TRIGGERS_DROP), "sqlite": (SQLITE_TRIGGERS, SQLITE_TRIGGERS_DROP)}


class RunSQLForVendor(migrations.RunSQL):
    """RunSQL with one script per database vendor; refuses a vendor it has no triggers for."""

    def __init__(self, scripts):
        self.scripts = scripts
        super().__init__(sql=migrations.RunSQL.noop, reverse_sql=migrations.RunSQL.noop)

    def _script(self, schema_editor, backwards: bool):
        vendor = schema_editor.connection.vendor
        if vendor not in self.scripts:
            raise NotSupportedError(f"the ledger's append-only triggers exist for {sorted(self.scripts)}, not {vendor}")
        return self.scripts[vendor][1 if backwards else 0]

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if router.allow_migrate(schema_editor.connection.alias, app_label, **self.hints):
            self._run_sql(schema_editor, self._script(schema_editor, backwards=False))

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if router.allow_migrate(schema_editor.connection.alias, app_label, **self.hints):
            self._run_sql(schema_editor, self._script(schema_editor, backwards=True))

    def deconstruct(self):
        return (self.__class__.__name__, [self.scripts], {})


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]

    operations = [RunSQLForVendor(SQL)]
