"""Database-level support for the append-only ledger tables.

The triggers themselves are created in migration 0002. PostgreSQL's refuse every UPDATE and
DELETE on entries and transactions. SQLite's DELETE trigger asks the function
``ledger_append_only()`` first, which each Django connection registers below: it answers 1,
except while Django flushes the whole database (``manage.py flush``, and between transactional
tests), which on SQLite is a ``DELETE FROM`` per table where PostgreSQL uses TRUNCATE (which
fires no row triggers). A client without the function (the sqlite3 shell) cannot delete at all.
"""

SQLITE_GUARD_FUNCTION = "ledger_append_only"


def sqlite_connection_prepare(sender, connection, **kwargs) -> None:
    if connection.vendor != "sqlite":
        return
    connection.connection.create_function(
        SQLITE_GUARD_FUNCTION, 0, lambda: 0 if getattr(connection, "_ledger_flushing", False) else 1
    )
    if "execute_sql_flush" not in vars(connection.ops):
        flush = connection.ops.execute_sql_flush

        def execute_sql_flush(sql_list):
            connection._ledger_flushing = True
            try:
                return flush(sql_list)
            finally:
                connection._ledger_flushing = False

        connection.ops.execute_sql_flush = execute_sql_flush
